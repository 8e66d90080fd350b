import { startRegistry } from '../helpers/registry.js';
import { FULL_V1_1 } from './capabilities.js';
import { describeConformance } from './conformance-suite.js';

// This registry claims all of distribution-spec v1.1, so every check runs, the ours-only ones included.
describeConformance('our registry', () => startRegistry(), FULL_V1_1);
