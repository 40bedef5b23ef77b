import { describe } from 'vitest';
import { simulateSeeds } from '../support/sim/seeds.js';

describe('deterministic simulator (part 2 of 4)', () => simulateSeeds(251, 500));
