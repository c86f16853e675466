/**
 * The live call: tiles for every participant (active speaker highlighted, audio-only badge),
 * mute / camera / screen share, and a connection-quality indicator. Media goes through the SFU
 * via the shared browser module (client/src/call/consult-call.ts). When the call cannot start,
 * the local camera is previewed and the reason shown.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { PresentParticipant } from '../../../../contracts/consult-events';
import type { CallPeerInfo } from '../../../../contracts/sfu-api';
import { ConsultCall, type CallConnectionStatus, type CallQuality, type CallState, type RemoteTrack } from '../../call/consult-call';
import { Badge } from '../../components/ui';
import { useI18n, type MessageKey } from '../../i18n';
import { useMe, useSession } from '../../lib/session';

declare global {
  interface Window {
    /** The live call of this tab, for diagnostics and end-to-end tests (getStats via consumerStats()). */
    hoichanConsultCall?: ConsultCall;
  }
}

interface Tile {
  key: string;
  peerId: string | null;
  name: string;
  video?: MediaStreamTrack;
  audio?: MediaStreamTrack;
  screen: boolean;
  self: boolean;
  audioOnly: boolean;
  host: boolean;
  /** The sender turned the camera off (its producer is paused): no frozen last frame. */
  cameraOff: boolean;
  /** The sender muted the microphone. */
  muted: boolean;
}

function VideoTile({ tile, active, call }: { tile: Tile; active: boolean; call: ConsultCall | null }) {
  const { t } = useI18n();
  const videoRef = useRef<HTMLVideoElement | null>(null);
  const audioRef = useRef<HTMLAudioElement | null>(null);
  useEffect(() => {
    const v = videoRef.current;
    if (!v) return;
    v.srcObject = tile.video ? new MediaStream([tile.video]) : null;
    if (tile.video) void v.play().catch(() => undefined);
  }, [tile.video]);
  useEffect(() => {
    const a = audioRef.current;
    if (!a || tile.self) return;
    a.srcObject = tile.audio ? new MediaStream([tile.audio]) : null;
    if (tile.audio) void a.play().catch(() => undefined);
  }, [tile.audio, tile.self]);
  // Tell the SFU how large remote video is drawn (it picks the simulcast layer from it).
  useEffect(() => {
    const v = videoRef.current;
    if (!v || !call || tile.self || !tile.video) return;
    const consumer = call.remoteTracks().find((r) => r.track === tile.video);
    if (!consumer) return;
    const ro = new ResizeObserver(() =>
      call.setRenderedSize(consumer.consumerId, Math.round(v.clientWidth * devicePixelRatio), Math.round(v.clientHeight * devicePixelRatio)),
    );
    ro.observe(v);
    return () => ro.disconnect();
  }, [call, tile.video, tile.self]);
  const initials = tile.name
    .split(/\s+/)
    .filter(Boolean)
    .slice(-2)
    .map((w) => w.charAt(0))
    .join('');
  return (
    <figure
      className={`tile ${active ? 'tile-active' : ''} ${tile.screen ? 'tile-screen' : ''} ${tile.self && !tile.screen ? 'tile-self' : ''}`}
      data-testid={tile.self ? 'tile-self' : `tile-${tile.peerId ?? tile.key}`}
      data-active={String(active)}
    >
      <video
        ref={videoRef}
        muted
        playsInline
        autoPlay
        className={tile.video && !tile.audioOnly && !tile.cameraOff ? '' : 'hidden'}
        data-testid={tile.self ? 'video-self' : 'video-remote'}
      />
      {!tile.self ? <audio ref={audioRef} autoPlay /> : null}
      {!tile.video || tile.audioOnly || tile.cameraOff ? (
        <div className="tile-avatar" aria-hidden="true">
          {initials}
        </div>
      ) : null}
      <figcaption className="tile-caption">
        <span className="tile-name">
          <span translate="no">{tile.name}</span>
          {tile.self ? ` (${t('call.you')})` : ''}
          {tile.screen ? ` · ${t('call.screen')}` : ''}
        </span>
        {tile.host ? <Badge tone="info">{t('call.host')}</Badge> : null}
        {tile.audioOnly ? (
          <Badge tone="warning" testId="audio-only-badge">
            {t('call.audioOnly')}
          </Badge>
        ) : null}
        {!tile.self && tile.cameraOff ? (
          <Badge tone="neutral" testId="camera-off-badge">
            {t('call.peerCameraOff')}
          </Badge>
        ) : null}
        {!tile.self && tile.muted ? (
          <Badge tone="neutral" testId="muted-badge">
            {t('call.peerMuted')}
          </Badge>
        ) : null}
        {active ? <span className="sr-only">{t('call.speaking')}</span> : null}
      </figcaption>
    </figure>
  );
}

const qualityLabel: Record<CallQuality, MessageKey> = {
  connecting: 'call.qualityConnecting',
  reconnecting: 'call.qualityReconnecting',
  waiting: 'call.qualityWaiting',
  'no-media': 'call.qualityNoMedia',
  'audio-only': 'call.qualityAudioOnly',
  poor: 'call.qualityPoor',
  good: 'call.qualityGood',
};
const qualityBars: Record<CallQuality, number> = { connecting: 0, reconnecting: 0, 'no-media': 0, 'audio-only': 1, poor: 1, waiting: 3, good: 3 };

/**
 * What the call really does (ConsultCall's connection status at each stats tick): ICE/DTLS state
 * of both transports, inbound media flowing or not, audio-only, reconnecting.
 */
function QualityIndicator({
  status,
  state,
  kbps,
}: {
  status: CallConnectionStatus | null;
  state: CallState | 'idle' | 'starting' | 'failed';
  kbps: number | null;
}) {
  const { t, number } = useI18n();
  const quality: CallQuality = state === 'reconnecting' ? 'reconnecting' : (status?.quality ?? 'connecting');
  const bars = qualityBars[quality];
  const relay = status?.transports.some((tr) => tr.localCandidateType === 'relay');
  const title = [
    kbps !== null ? `${number(Math.round(kbps))} kbps` : null,
    status
      ? status.transports.map((tr) => `${tr.direction}: ${tr.connectionState}${tr.protocol ? ` ${tr.protocol}` : ''}${relay ? ' (TURN)' : ''}`).join(', ')
      : null,
  ]
    .filter(Boolean)
    .join(' · ');
  return (
    <span
      className={`quality quality-${bars >= 3 ? 'good' : bars >= 1 ? 'poor' : 'unknown'}`}
      role="status"
      data-testid="connection-quality"
      data-quality={quality}
      data-kbps={kbps !== null ? Math.round(kbps) : undefined}
      title={title || undefined}
    >
      <span className="quality-bars" aria-hidden="true">
        {[1, 2, 3].map((b) => (
          <span key={b} className={b <= bars ? 'on' : ''} style={{ height: 4 + b * 4 }} />
        ))}
      </span>
      <span>{t(qualityLabel[quality])}</span>
    </span>
  );
}

export function VideoGrid({ consultId, canJoin, present = [] }: { consultId: string; canJoin: boolean; present?: PresentParticipant[] }) {
  const { t } = useI18n();
  const me = useMe();
  const { socket, api } = useSession();
  const [call, setCall] = useState<ConsultCall | null>(null);
  const [state, setState] = useState<CallState | 'idle' | 'starting' | 'failed'>('idle');
  const [error, setError] = useState<string | null>(null);
  const [preview, setPreview] = useState<MediaStream | null>(null);
  const [peers, setPeers] = useState<CallPeerInfo[]>([]);
  const [remote, setRemote] = useState<RemoteTrack[]>([]);
  const [speaker, setSpeaker] = useState<string | null>(null);
  const [selfAudioOnly, setSelfAudioOnly] = useState(false);
  const [mic, setMic] = useState(true);
  const [cam, setCam] = useState(true);
  const [sharing, setSharing] = useState(false);
  const [kbps, setKbps] = useState<number | null>(null);
  const [connection, setConnection] = useState<CallConnectionStatus | null>(null);
  const [, setPausedVersion] = useState(0);
  const callRef = useRef<ConsultCall | null>(null);

  const start = useCallback(async () => {
    if (!socket) return;
    setState('starting');
    setError(null);
    try {
      const c = await ConsultCall.start({ serverUrl: window.location.origin, token: () => api.accessToken ?? '', consultId, socket });
      callRef.current = c;
      window.hoichanConsultCall = c;
      setCall(c);
      setPeers(c.peers());
      setRemote(c.remoteTracks());
      setState(c.state);
      c.on('state', ({ state: s }) => setState(s));
      c.on('peer-joined', () => setPeers(c.peers()));
      c.on('peer-left', () => {
        setPeers(c.peers());
        setRemote(c.remoteTracks());
      });
      c.on('track', () => setRemote(c.remoteTracks()));
      c.on('track-ended', () => setRemote(c.remoteTracks()));
      c.on('active-speaker', ({ peerId }) => setSpeaker(peerId));
      c.on('audio-only', (e) => {
        if (e.self) setSelfAudioOnly(e.audioOnly);
        setPeers(c.peers());
      });
      c.on('error', (e) => setError(e.message));
      c.on('connection', (status) => {
        setConnection(status);
        setKbps(c.lastEstimateKbps);
      });
      c.on('producer-paused', () => setPausedVersion((v) => v + 1));
    } catch (err) {
      setState('failed');
      setError(err instanceof Error ? err.message : String(err));
      // Show the local camera anyway so the doctor can check their picture and sound.
      try {
        setPreview(await navigator.mediaDevices.getUserMedia({ audio: false, video: true }));
      } catch {
        /* no camera */
      }
    }
  }, [socket, api, consultId]);

  useEffect(
    () => () => {
      void callRef.current?.leave();
      callRef.current = null;
    },
    [],
  );
  useEffect(() => () => preview?.getTracks().forEach((tr) => tr.stop()), [preview]);

  const leave = async () => {
    await call?.leave();
    callRef.current = null;
    setCall(null);
    setRemote([]);
    setPeers([]);
    setSharing(false);
    setConnection(null);
    setState('idle');
  };

  const toggleMic = async () => {
    await call?.setMicEnabled(!mic);
    setMic(!mic);
  };
  const toggleCam = async () => {
    await call?.setCameraEnabled(!cam);
    setCam(!cam);
  };
  const toggleShare = async () => {
    if (!call) return;
    try {
      if (sharing) await call.stopScreenShare();
      else await call.shareScreen();
      setSharing(!sharing);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const tiles: Tile[] = [];
  const localVideo = call?.localTrack('video') ?? preview?.getVideoTracks()[0];
  tiles.push({
    key: 'self',
    peerId: null,
    name: me.displayName,
    video: cam ? localVideo : undefined,
    screen: false,
    self: true,
    audioOnly: selfAudioOnly,
    host: false,
    cameraOff: !cam,
    muted: !mic,
  });
  // A peer whose media arrives before its announcement still gets a tile.
  const known = new Set(peers.map((p) => p.peerId));
  const anonymous = [...new Set(remote.map((r) => r.peerId))].filter((id) => !known.has(id));
  // Name it from the consult room when exactly one present person is not yet a known call peer.
  const unnamed = present.filter((p) => p.userId !== me.id && !peers.some((k) => k.userId === p.userId));
  const guess = anonymous.length === 1 && unnamed.length === 1 ? unnamed[0] : undefined;
  const everyone: CallPeerInfo[] = [
    ...peers,
    ...anonymous.map((peerId) => ({
      peerId,
      userId: guess?.userId ?? '',
      displayName: guess?.displayName ?? t('call.participant'),
      host: false,
      audioOnly: false,
    })),
  ];
  for (const p of everyone) {
    const tracks = remote.filter((r) => r.peerId === p.peerId);
    const camera = tracks.find((r) => r.source === 'camera');
    const micTrack = tracks.find((r) => r.kind === 'audio');
    const paused = (r: RemoteTrack | undefined) => !!r && !!call?.isProducerPaused(r.producerId);
    tiles.push({
      key: p.peerId,
      peerId: p.peerId,
      name: p.displayName,
      video: camera?.track,
      audio: micTrack?.track,
      screen: false,
      self: false,
      audioOnly: p.audioOnly,
      host: p.host,
      cameraOff: paused(camera),
      muted: paused(micTrack),
    });
    const screen = tracks.find((r) => r.source === 'screen');
    if (screen)
      tiles.push({
        key: `${p.peerId}-screen`,
        peerId: p.peerId,
        name: p.displayName,
        video: screen.track,
        screen: true,
        self: false,
        audioOnly: false,
        host: false,
        cameraOff: paused(screen),
        muted: false,
      });
  }
  const localScreen = call?.localTrack('screen');
  if (localScreen)
    tiles.push({
      key: 'self-screen',
      peerId: null,
      name: me.displayName,
      video: localScreen,
      screen: true,
      self: true,
      audioOnly: false,
      host: false,
      cameraOff: false,
      muted: false,
    });

  const inCall = call !== null && state !== 'closed';
  return (
    <section className="call" aria-label={t('call.title')} data-testid="video-grid" data-call-state={state}>
      <div className={`tiles tiles-${Math.min(tiles.length, 4)}`}>
        {tiles.map((tile) => (
          <VideoTile key={tile.key} tile={tile} active={tile.peerId !== null && tile.peerId === speaker} call={call} />
        ))}
      </div>
      {error ? (
        <p className="call-error" role="alert" data-testid="call-error">
          {state === 'failed' ? t('call.unavailable') : null} <span className="muted">{error}</span>
        </p>
      ) : null}
      <div className="call-controls" role="toolbar" aria-label={t('call.controls')}>
        {inCall ? (
          <>
            <button type="button" className="btn btn-secondary" aria-pressed={!mic} onClick={() => void toggleMic()} data-testid="call-mute">
              {mic ? t('call.mute') : t('call.unmute')}
            </button>
            <button type="button" className="btn btn-secondary" aria-pressed={!cam} onClick={() => void toggleCam()} data-testid="call-camera">
              {cam ? t('call.cameraOff') : t('call.cameraOn')}
            </button>
            <button type="button" className="btn btn-secondary" aria-pressed={sharing} onClick={() => void toggleShare()} data-testid="call-share">
              {sharing ? t('call.stopShare') : t('call.share')}
            </button>
            <QualityIndicator status={connection} state={state} kbps={kbps} />
            {selfAudioOnly ? (
              <Badge tone="warning" testId="self-audio-only">
                {t('call.selfAudioOnly')}
              </Badge>
            ) : null}
            <span className="spacer" />
            <button type="button" className="btn btn-danger" onClick={() => void leave()} data-testid="call-leave">
              {t('call.leave')}
            </button>
          </>
        ) : (
          <>
            <span className="muted">{canJoin ? t('call.notJoined') : t('call.waitForAdmission')}</span>
            <span className="spacer" />
            <button
              type="button"
              className="btn btn-primary"
              disabled={!canJoin || !socket || state === 'starting'}
              onClick={() => void start()}
              data-testid="call-join"
            >
              {state === 'starting' ? t('call.joining') : t('call.join')}
            </button>
          </>
        )}
      </div>
    </section>
  );
}
