import type { ConsultDirectory } from '../consults/directory-api';
import type { Feature, FeatureContext } from '../platform/feature';

/** Live consult video through mediasoup. (Being built: see issue 5.) */
export async function createSfuFeature(_ctx: FeatureContext, _deps: { consults: ConsultDirectory }): Promise<Feature> {
  return { name: 'sfu' };
}
