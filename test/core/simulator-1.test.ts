import { describe } from 'vitest';
import { simulateSeeds } from '../support/sim/seeds.js';

describe('deterministic simulator (part 1 of 4)', () => simulateSeeds(1, 250));
