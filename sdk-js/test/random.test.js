import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../src/random.js';

const draws = (random, count) => Array.from({ length: count }, random);

test('one seed gives one sequence, another seed another', () => {
  assert.deepEqual(draws(seededRandom('req-1'), 5), draws(seededRandom('req-1'), 5));
  assert.notDeepEqual(draws(seededRandom('req-1'), 5), draws(seededRandom('req-2'), 5));
});

test('draws are in [0, 1) and spread over it', () => {
  const values = draws(seededRandom('spread'), 10_000);
  assert.ok(values.every((value) => value >= 0 && value < 1));
  const lowHalf = values.filter((value) => value < 0.5).length;
  assert.ok(lowHalf > 4_700 && lowHalf < 5_300, `${lowHalf} of 10000 below 0.5`);
});
