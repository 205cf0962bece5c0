#!/usr/bin/env node
/** The `decoupled` executable: runs the program and exits with its code. */
import { main } from './program.js';

// A closed pipe (`decoupled train --help | head -1`) ends the output, not the program with a trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await main();
