#!/usr/bin/env node
// The `faultline` command. A committed stub, so npm links it at install time in a fresh clone
// (before `npm run build` has made dist/); it runs the built CLI.
import '../dist/cli/main.js'
