import { describe } from 'vitest';
import { simulateSeeds } from '../support/sim/seeds.js';

describe('deterministic simulator (part 3 of 4)', () => simulateSeeds(501, 750));
