// Generated code lives in ../gen (buf + ts-proto); this index only re-exports it.
export * as routerV1 from '../gen/routeplex/router/v1/router_service.js';
export * as feedbackV1 from '../gen/routeplex/feedback/v1/feedback_service.js';
export * as insightsV1 from '../gen/routeplex/insights/v1/insights_service.js';
export * as typeV1 from '../gen/routeplex/type/v1/learning.js';

/** The compiled contracts (a buf image with imports): the REST facade reads its http annotations. */
export const contractsImageUrl = new URL('../gen/image.binpb', import.meta.url);
