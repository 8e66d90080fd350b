import { z } from 'zod';

// Filled in by metrics (issue 5).
export const metricsSchema = z.object({}).passthrough().default({});
