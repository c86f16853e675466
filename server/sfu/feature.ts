import { CallError } from './consult-call-room';
import type { ConsultDirectory } from '../consults/directory-api';
import type { Feature, FeatureContext } from '../platform/feature';
import { loadMediasoup, resolveWorkerBin, sfuConfigFrom } from './config';
import { MediaNodes } from './media-nodes';
import { SfuService } from './sfu-service';
import { SfuSignalling } from './signalling';

/**
 * Live consult video through mediasoup. Settings come from the SFU_* / TURN_* variables, validated
 * with the rest of the configuration (server/config.ts) and fitted together here once
 * (server/sfu/config.ts, docs/sfu.md). mediasoup is loaded here, lazily, after
 * MEDIASOUP_WORKER_BIN is set (it reads that variable once, when first loaded).
 */
export async function createSfuFeature(ctx: FeatureContext, deps: { consults: ConsultDirectory }): Promise<Feature & { service: SfuService | null }> {
  const config = sfuConfigFrom(ctx.config.sfu, ctx.config.env);
  const workerBin = resolveWorkerBin(config.workerBin, ctx.config.cacheDir);
  const mediasoup = loadMediasoup(workerBin);
  const logger = ctx.logger.child({ feature: 'sfu' });
  let service: SfuService;
  // With Redis this process is one media node among several: calls span them through pipes.
  const redis = ctx.shared.redis;
  let nodes: MediaNodes | null = null;
  try {
    nodes = redis
      ? new MediaNodes({ redis, nodeId: ctx.shared.processId, pipeAddress: config.announcedAddress, load: () => service.nodeLoad(), logger })
      : null;
    service = await SfuService.create({
      config,
      logger,
      mediasoup,
      workerBin,
      nodes,
      // The consult directory decides (call state, admission, record access) and audits; a refusal names why.
      admission: async (userId, consultId) => {
        const a = await deps.consults.callAdmission(userId, consultId);
        if (a?.refusal) throw new CallError(a.refusal, a.refusalCode ?? 'forbidden');
        return a;
      },
    });
  } catch (err) {
    // Consults go on without video (store-and-forward): the platform starts, joins are refused.
    logger.error(
      { err, workerBin: workerBin ?? '(mediasoup prebuilt)' },
      'mediasoup worker failed to start: live video is unavailable (build it: scripts/build-mediasoup-worker.sh)',
    );
    const signalling = new SfuSignalling(null, logger, {
      reconnectGraceMs: 0,
      unavailableReason: 'live video is unavailable on this server (media worker failed to start)',
    });
    return { name: 'sfu', service: null, socket: signalling.attach };
  }
  if (nodes) await nodes.start(service.onNodeMessage);
  logger.info(
    {
      nodeId: nodes?.nodeId,
      workers: config.workers,
      workerBin: workerBin ?? '(mediasoup prebuilt)',
      listenIp: config.listenIp,
      announcedAddress: config.announcedAddress,
      announcedAddressSource: config.announcedAddressSource,
    },
    `sfu ready: ICE candidates announce ${config.announcedAddress} (${config.announcedAddressSource})`,
  );
  const signalling = new SfuSignalling(service, logger, { reconnectGraceMs: config.reconnectGraceMs });
  // A closed, declined or cancelled consult ends its call at once (admission ends with the consult).
  const unsubscribe = ctx.events.on('consult.ended', ({ consultId }) => {
    if (service.endCall(consultId)) logger.info({ consultId }, 'consult ended: its call is closed');
  });
  return {
    name: 'sfu',
    service,
    socket: signalling.attach,
    close: async () => {
      unsubscribe();
      signalling.close();
      await service.close();
      await nodes?.close();
    },
  };
}
