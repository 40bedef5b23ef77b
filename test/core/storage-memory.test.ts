import { MemoryStorage } from '../../src/core/storage-memory.js';
import { runStorageSuite } from '../support/storage-suite.js';

runStorageSuite('in-memory', () => new MemoryStorage());
