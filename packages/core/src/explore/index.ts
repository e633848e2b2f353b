/** Explore: fail each matching call in turn and classify how the code copes (README "Explore"). */
export { exploreFailures, ExploreCensusError, type ExploreFailuresOptions } from './explore-failures.js'
export { observeExplorations, type ExplorationListener } from './observe.js'
export { formatExploreReport, formatFindings, exploreJson, reproYaml } from './format.js'
export type { ExploreOutcome, ExploreReport, ExploreRun } from './types.js'
