// `node --import @scripthost/sdk/testing/register --test`: scripts and their
// tests import `@scripthost/sdk` as in a build, with the fake host behind it.
import { register } from 'node:module';

register('./hooks.js', import.meta.url);
