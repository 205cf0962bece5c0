#!/usr/bin/env node
/** The `decoupled` executable: runs the program and exits with its code. */
import { main } from './program.js';

process.exitCode = await main();
