import { z } from 'zod';

// Filled in by access control (issue 4).
export const authSchema = z.object({}).passthrough().default({});
