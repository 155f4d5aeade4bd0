// The generated entry imports this before the script, so the script's
// top level already sees the scripthost console and globals.
import { installGlobals } from './globals.js';

installGlobals();
