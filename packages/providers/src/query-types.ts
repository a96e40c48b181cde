// The query types are the learning core's: catalog priors and simulator profiles are keyed by them.
export { QUERY_TYPES, isQueryType, type QueryType } from '@routeplex/scoring';
