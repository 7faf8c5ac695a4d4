import * as v from 'valibot';
import { integerIn } from '../queue/job-types.js';
import { defineStepHandler, type StepConfigSchema, type StepContext, type StepHandlerSpec } from '../workflows/step-handlers.js';

function numberIn(min: number, max: number) {
  const message = `must be a number from ${min} to ${max}`;
  return v.pipe(v.number(message), v.minValue(min, message), v.maxValue(max, message));
}

const entitiesConfig = v.strictObject({
  /** Rows newer than now − lag wait for the next run (default 10). */
  lag_seconds: v.optional(numberIn(0, 3600)),
  /** Rows per source per transaction (default 10,000). */
  batch_size: v.optional(integerIn(100, 1_000_000)),
  /** An edge not seen for this many days weighs half (default 7). */
  half_life_days: v.optional(numberIn(0.1, 3650)),
});
const relationsConfig = v.strictObject({
  half_life_days: v.optional(numberIn(0.1, 3650)),
});
const pruneConfig = v.strictObject({});

export type EntitiesStepConfig = v.InferOutput<typeof entitiesConfig>;
export type RelationsStepConfig = v.InferOutput<typeof relationsConfig>;
export type PruneStepConfig = v.InferOutput<typeof pruneConfig>;

/** Each step has its own config schema; the list is of plain specs (the registry keeps them so too), added in a loop. */
const plain = <S extends StepConfigSchema>(spec: StepHandlerSpec<S>): StepHandlerSpec => spec as unknown as StepHandlerSpec;

/**
 * knowledge_graph_update's steps (src/knowledge/update.ts): read the sources after their cursors
 * into nodes and evidence edges, recompute the symbols' correlations and decay the edges, then move
 * the edges below the agent's min_weight to the history. The agent's config gives min_confidence
 * (extract_entities, default 0.6) and min_weight (prune_edges, default 0.1).
 */
export function knowledgeSteps(): StepHandlerSpec[] {
  return [
    plain(
      defineStepHandler({
        name: 'extract_entities',
        description:
          'reads agent_events, workflow executions, semantic memory and market analyses after their cursors into the knowledge graph’s nodes and evidence edges',
        config: entitiesConfig,
        handler: async () => {
          const { runExtractEntities } = await import('./knowledge.handler.js');
          return { default: (ctx: StepContext<EntitiesStepConfig>) => runExtractEntities(ctx) };
        },
      }),
    ),
    plain(
      defineStepHandler({
        name: 'extract_relations',
        description: 'recomputes the correlations of the analysed symbols’ daily returns and decays the edges not seen lately',
        config: relationsConfig,
        handler: async () => {
          const { runExtractRelations } = await import('./knowledge.handler.js');
          return { default: (ctx: StepContext<RelationsStepConfig>) => runExtractRelations(ctx) };
        },
      }),
    ),
    plain(
      defineStepHandler({
        name: 'prune_edges',
        description: 'moves the knowledge graph’s edges weighing less than the agent’s min_weight (0.1) to the history',
        config: pruneConfig,
        handler: async () => {
          const { runPruneEdges } = await import('./knowledge.handler.js');
          return { default: (ctx: StepContext<PruneStepConfig>) => runPruneEdges(ctx) };
        },
      }),
    ),
  ];
}
