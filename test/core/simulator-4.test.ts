import { describe } from 'vitest';
import { simulateSeeds } from '../support/sim/seeds.js';

describe('deterministic simulator (part 4 of 4)', () => simulateSeeds(751, 1000));
