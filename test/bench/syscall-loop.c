// Times N calls of one syscall and prints the mean ns per call.
//   syscall-loop close <n>      close(-1): a syscall with no LSM hook (entry mechanisms)
//   syscall-loop kill0 <n>      kill(getpid(), 0): passes security_task_kill (LSM mechanisms)
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int kill0 = argc > 1 && !strcmp(argv[1], "kill0");
	long n = argc > 2 ? atol(argv[2]) : 100000;
	pid_t self = getpid();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		if (kill0)
			syscall(SYS_kill, self, 0);
		else
			syscall(SYS_close, -1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
	return 0;
}
