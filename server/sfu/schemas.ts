/** zod schemas of every client → server sfu:* payload. Unknown keys are rejected. */
import { z } from 'zod';

const id = z.string().min(1).max(128);
/** A mediasoup parameter object: a plain JSON object, bounded in size by socket.io's maxHttpBufferSize. */
const json = z.record(z.string(), z.unknown());
const rtpParameters = json.refine((v) => Array.isArray(v.codecs) && v.codecs.length > 0, 'rtpParameters.codecs must be a non-empty array');
const rtpCapabilities = json.refine((v) => Array.isArray(v.codecs), 'rtpCapabilities.codecs must be an array');
const dtlsParameters = json.refine((v) => Array.isArray(v.fingerprints) && v.fingerprints.length > 0, 'dtlsParameters.fingerprints must be a non-empty array');
const kbps = z.number().min(0).max(10_000_000);

export const sfuSchemas = {
  'sfu:join': z.strictObject({ consultId: id }),
  'sfu:create-transport': z.strictObject({ direction: z.enum(['send', 'recv']) }),
  'sfu:connect-transport': z.strictObject({ transportId: id, dtlsParameters }),
  'sfu:produce': z.strictObject({ transportId: id, kind: z.enum(['audio', 'video']), rtpParameters, source: z.enum(['mic', 'camera', 'screen']) }),
  'sfu:close-producer': z.strictObject({ producerId: id }),
  'sfu:consume': z.strictObject({ producerId: id, rtpCapabilities }),
  'sfu:pause': z.strictObject({ type: z.enum(['producer', 'consumer']), id }),
  'sfu:resume': z.strictObject({ type: z.enum(['producer', 'consumer']), id }),
  'sfu:set-preferred-layers': z.strictObject({
    consumerId: id,
    spatialLayer: z.number().int().min(0).max(2),
    temporalLayer: z.number().int().min(0).max(2).optional(),
  }),
  'sfu:restart-ice': z.strictObject({ transportId: id }),
  'sfu:stats': z.strictObject({
    downlinkKbps: kbps.optional(),
    availableOutgoingBitrate: kbps.optional(),
    availableIncomingBitrate: kbps.optional(),
    renderedSizes: z
      .array(z.strictObject({ consumerId: id, width: z.number().min(0).max(16384), height: z.number().min(0).max(16384) }))
      .max(64)
      .optional(),
  }),
  'sfu:leave': z.strictObject({}),
  'sfu:resume-session': z.strictObject({ consultId: id, peerId: id }),
} as const;

export type SfuEventName = keyof typeof sfuSchemas;
