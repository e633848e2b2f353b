// A Vitest reporter for the VM matrix: prints each test file's results on the console as soon as
// the file ends, between @@FL-FILE@@ markers, in the shape of one entry of the JSON reporter's
// testResults (the fields matrix.mjs reads), and each file's start between @@FL-FILE-START@@
// markers. A run cut short (a guest panic, a hang the guard stopped) keeps the files that ended,
// and names those that had started but not ended (matrix.mjs).
const STATUS = { fail: 'failed', pass: 'passed', skip: 'skipped', todo: 'todo' }

function tests(task, out = []) {
  for (const t of task.tasks ?? []) {
    if (t.type === 'test') out.push(t)
    else tests(t, out)
  }
  return out
}

function fullName(t) {
  const names = [t.name]
  for (let s = t.suite; s && s.type !== 'file' && s.name; s = s.suite) names.unshift(s.name)
  return names.join(' ')
}

export default class FileReporter {
  onTestModuleStart(testModule) {
    process.stdout.write(`\n@@FL-FILE-START@@${JSON.stringify(testModule.task.filepath)}@@FL-FILE-START-END@@\n`)
  }

  onTestModuleEnd(testModule) {
    const file = testModule.task
    const all = tests(file)
    const startTime = Math.min(...all.map((t) => t.result?.startTime ?? Infinity))
    const endTime = Math.max(0, ...all.map((t) => (t.result?.startTime ?? 0) + (t.result?.duration ?? 0)))
    const entry = {
      name: file.filepath,
      status: file.result?.state === 'fail' || all.some((t) => t.result?.state === 'fail') ? 'failed' : 'passed',
      message: file.result?.errors?.[0]?.message ?? '',
      startTime: Number.isFinite(startTime) ? startTime : 0,
      endTime,
      assertionResults: all.map((t) => ({
        fullName: fullName(t),
        status: STATUS[t.result?.state ?? t.mode] ?? 'skipped',
        failureMessages: t.result?.errors?.map((e) => e.stack || e.message) ?? [],
        meta: t.meta,
      })),
    }
    process.stdout.write(`\n@@FL-FILE@@${JSON.stringify(entry)}@@FL-FILE-END@@\n`)
  }
}
