import { z } from 'zod';

// Filled in by the pull-through cache (issue 3).
export const upstreamsSchema = z.array(z.object({}).passthrough()).default([]);
