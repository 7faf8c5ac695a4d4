import * as v from 'valibot';
import { jobStatuses } from '../read-model/job-view.js';

/** Query strings and bodies of the dashboard's own routes (the job and workflow ones are the API's: api/schemas.ts). */

const mustBe = (what: string) => `must be ${what}`;

function integerText(min: number, max: number, what: string) {
  const message = mustBe(what);
  return v.pipe(v.string(message), v.regex(/^\d{1,15}$/, message), v.transform(Number), v.minValue(min, message), v.maxValue(max, message));
}

const anyId = integerText(1, 999_999_999_999_999, 'a positive integer of up to 15 digits');

export const jobSearchQuery = v.object({
  type: v.optional(v.pipe(v.string(mustBe('a job type')), v.maxLength(64, mustBe('a job type of up to 64 characters')))),
  state: v.optional(v.picklist(jobStatuses, mustBe(`one of ${jobStatuses.join(', ')}`))),
  q: v.optional(v.pipe(v.string(mustBe('text')), v.maxLength(200, mustBe('at most 200 characters')))),
  before: v.optional(anyId),
  limit: v.optional(integerText(1, 200, 'an integer from 1 to 200')),
});

export const agentEventsQuery = v.object({ before: v.optional(anyId) });

export const executionsQuery = v.object({
  template: v.optional(v.pipe(v.string(mustBe('a template name')), v.regex(/^[a-z][a-z0-9_]{0,62}$/, mustBe('a template name')))),
});

export const loginBody = v.strictObject({
  token: v.pipe(v.string(mustBe('the API token')), v.minLength(1, mustBe('the API token')), v.maxLength(1000, mustBe('the API token'))),
});
