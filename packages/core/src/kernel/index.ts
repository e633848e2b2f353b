/** What the running kernel allows, probed once per process, and which mechanism serves a rule. */
export { probeFeature, probeAll, hasFeature, resetFeatureCache, syscallPrefix, FEATURES, FEATURE_DESCRIPTIONS, type Feature, type FeatureResult } from './features.js'
export { cgroup2Mount } from './cgroup.js'
export { readPrivileges, GRANT_ADVICE, type Privileges } from './privileges.js'
export { chooseMechanism, mechanismCoverage, MECHANISM_INFO, type Mechanism, type MechanismChoice, type MechanismCoverage } from './mechanisms.js'
