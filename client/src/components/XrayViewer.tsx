/**
 * Chest X-ray viewer on a canvas: window/level (drag or sliders), zoom (wheel or buttons), pan
 * (drag), an AI heatmap overlay and lesion boxes that can be toggled, and (for the radiologist)
 * drawing a corrected box by dragging.
 *
 * Coordinate contract: every box (AI lesions, radiologist boxes, a drawn box) is in the ORIGINAL
 * image's pixels, and `imageSize` is that original size. The shown image may be a smaller preview
 * (the server renders DICOM to ≤ 1024 px): it is drawn stretched over `imageSize`, so the one
 * transform original pixels → screen is `screen = origin + scale × original`, used for drawing and
 * for turning a drag back into original pixels.
 */
import { useCallback, useEffect, useId, useMemo, useRef, useState, type PointerEvent as ReactPointerEvent, type WheelEvent as ReactWheelEvent } from 'react';
import type { LesionBox, TriageLesion } from '../../../contracts/imaging-api';
import { useI18n } from '../i18n';
import { useSession } from '../lib/session';
import { findingLabel } from './TriageSummary';

export type ViewerTool = 'pan' | 'wl' | 'box';

export interface OverlayImage {
  key: string;
  label: string;
  url: string;
}

export interface ImageSize {
  width: number;
  height: number;
}

interface Props {
  /** Protected image URL (fetched with the bearer token); may be a downscaled preview. */
  imageUrl: string;
  /** Size of the original image: the coordinate space of every box. */
  imageSize: ImageSize;
  alt: string;
  heatmaps?: OverlayImage[];
  lesions?: TriageLesion[];
  /** Radiologist-drawn boxes (shown in a different colour). */
  boxes?: LesionBox[];
  /** When given, the box tool is offered and each drawn box is passed here. */
  onDrawBox?: (box: LesionBox) => void;
  height?: number;
  testId?: string;
}

interface View {
  scale: number;
  ox: number;
  oy: number;
}

function useProtectedImage(url: string | null): { img: HTMLImageElement | null; error: string | null } {
  const { api } = useSession();
  const [state, setState] = useState<{ img: HTMLImageElement | null; error: string | null }>({ img: null, error: null });
  useEffect(() => {
    // No URL (e.g. the heatmap switched off): nothing is shown, not the last image.
    setState({ img: null, error: null });
    if (!url) return;
    let cancelled = false;
    let objectUrl: string | null = null;
    api
      .blobUrl(url)
      .then((u) => {
        objectUrl = u;
        const img = new Image();
        img.onload = () => !cancelled && setState({ img, error: null });
        img.onerror = () => !cancelled && setState({ img: null, error: 'decode' });
        img.src = u;
      })
      .catch((err: unknown) => !cancelled && setState({ img: null, error: err instanceof Error ? err.message : String(err) }));
    return () => {
      cancelled = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [api, url]);
  return state;
}

/** The image's grey values, windowed: out = (v - (level - width/2)) / width. */
function windowed(src: ImageData, width: number, level: number): ImageData {
  const out = new ImageData(src.width, src.height);
  const lo = level - width / 2;
  const k = 255 / Math.max(1, width);
  const lut = new Uint8ClampedArray(256);
  for (let v = 0; v < 256; v++) lut[v] = (v - lo) * k;
  const s = src.data;
  const d = out.data;
  for (let i = 0; i < s.length; i += 4) {
    const g = lut[s[i] ?? 0] ?? 0;
    d[i] = g;
    d[i + 1] = g;
    d[i + 2] = g;
    d[i + 3] = 255;
  }
  return out;
}

function rectAttr(x: number, y: number, w: number, h: number): string {
  return [x, y, w, h].map((v) => v.toFixed(1)).join(',');
}

const FINDING_COLOURS: Record<string, string> = { tb: '#ff5a4e', nodule: '#ffb020' };

export function XrayViewer({ imageUrl, imageSize, alt, heatmaps = [], lesions = [], boxes = [], onDrawBox, height = 460, testId = 'xray-viewer' }: Props) {
  const { t } = useI18n();
  /** The finding in the clinician's language ("Tổn thương lao", "Nodule/mass"), as on the badges. */
  const findingName = (finding: string): string => {
    const key = findingLabel[finding];
    return key ? t(key) : finding;
  };
  const id = useId();
  const { img, error } = useProtectedImage(imageUrl);
  const heatmapSources = useMemo(() => heatmaps, [heatmaps]);
  const [heatKey, setHeatKey] = useState<string>('');
  const heat = useProtectedImage(heatKey ? (heatmapSources.find((h) => h.key === heatKey)?.url ?? null) : null);
  const canvasRef = useRef<HTMLCanvasElement | null>(null);
  const wrapRef = useRef<HTMLDivElement | null>(null);
  const [size, setSize] = useState({ w: 600, h: height });
  const [view, setView] = useState<View>({ scale: 1, ox: 0, oy: 0 });
  const [wl, setWl] = useState({ width: 255, level: 128 });
  const [tool, setTool] = useState<ViewerTool>('pan');
  const [showBoxes, setShowBoxes] = useState(true);
  const [draft, setDraft] = useState<LesionBox | null>(null);
  const drag = useRef<{ x: number; y: number; view: View; wl: { width: number; level: number }; start?: { x: number; y: number } } | null>(null);

  // Grey pixels of the image at its natural size (once per image).
  const pixels = useMemo(() => {
    if (!img) return null;
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    if (!ctx) return null;
    ctx.drawImage(img, 0, 0);
    return ctx.getImageData(0, 0, c.width, c.height);
  }, [img]);

  // The windowed image as a canvas (recomputed when the window changes).
  const rendered = useMemo(() => {
    if (!pixels) return null;
    const c = document.createElement('canvas');
    c.width = pixels.width;
    c.height = pixels.height;
    const ctx = c.getContext('2d');
    if (!ctx) return null;
    ctx.putImageData(wl.width === 255 && wl.level === 128 ? pixels : windowed(pixels, wl.width, wl.level), 0, 0);
    return c;
  }, [pixels, wl]);

  const geomW = Math.max(1, imageSize.width);
  const geomH = Math.max(1, imageSize.height);
  const fit = useCallback(() => {
    if (!img) return;
    const scale = Math.min(size.w / geomW, size.h / geomH);
    setView({ scale, ox: (size.w - geomW * scale) / 2, oy: (size.h - geomH * scale) / 2 });
  }, [img, size, geomW, geomH]);

  useEffect(() => {
    const el = wrapRef.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setSize({ w: Math.max(200, el.clientWidth), h: height }));
    ro.observe(el);
    return () => ro.disconnect();
  }, [height]);

  useEffect(() => fit(), [fit]);

  // Draw.
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(size.w * dpr);
    canvas.height = Math.round(size.h * dpr);
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#05080b';
    ctx.fillRect(0, 0, size.w, size.h);
    if (!rendered || !img) return;
    ctx.save();
    ctx.translate(view.ox, view.oy);
    ctx.scale(view.scale, view.scale);
    ctx.imageSmoothingEnabled = view.scale * (geomW / rendered.width) < 2;
    // The (preview) image and the overlay both cover the original image's extent.
    ctx.drawImage(rendered, 0, 0, geomW, geomH);
    if (heatKey && heat.img) {
      ctx.globalAlpha = 0.5;
      ctx.drawImage(heat.img, 0, 0, geomW, geomH);
      ctx.globalAlpha = 1;
    }
    const line = 2 / view.scale;
    ctx.lineWidth = line;
    ctx.font = `${Math.round(13 / view.scale)}px sans-serif`;
    if (showBoxes) {
      for (const l of lesions) {
        const colour = FINDING_COLOURS[l.finding] ?? '#ff5a4e';
        ctx.strokeStyle = colour;
        ctx.setLineDash([6 / view.scale, 4 / view.scale]);
        ctx.strokeRect(l.x_min, l.y_min, l.x_max - l.x_min, l.y_max - l.y_min);
        ctx.setLineDash([]);
        ctx.fillStyle = colour;
        ctx.fillText(`${findingName(l.finding)} ${Math.round(l.score * 100)}%`, l.x_min, l.y_min - 4 / view.scale);
      }
    }
    ctx.strokeStyle = '#36d399';
    for (const b of draft ? [...boxes, draft] : boxes) ctx.strokeRect(b.x_min, b.y_min, b.x_max - b.x_min, b.y_max - b.y_min);
    ctx.restore();
  }, [rendered, img, heat.img, heatKey, view, size, lesions, boxes, draft, showBoxes, geomW, geomH]);

  const toImage = (e: ReactPointerEvent<HTMLCanvasElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    return { x: (e.clientX - r.left - view.ox) / view.scale, y: (e.clientY - r.top - view.oy) / view.scale };
  };

  const onPointerDown = (e: ReactPointerEvent<HTMLCanvasElement>) => {
    e.currentTarget.setPointerCapture(e.pointerId);
    drag.current = { x: e.clientX, y: e.clientY, view, wl, start: tool === 'box' ? toImage(e) : undefined };
  };
  const onPointerMove = (e: ReactPointerEvent<HTMLCanvasElement>) => {
    const d = drag.current;
    if (!d) return;
    const dx = e.clientX - d.x;
    const dy = e.clientY - d.y;
    if (tool === 'pan') setView({ ...d.view, ox: d.view.ox + dx, oy: d.view.oy + dy });
    else if (tool === 'wl') setWl({ width: Math.max(1, Math.min(510, d.wl.width + dx)), level: Math.max(0, Math.min(255, d.wl.level + dy)) });
    else if (d.start && img) {
      const p = toImage(e);
      const clampX = (v: number) => Math.max(0, Math.min(geomW, v));
      const clampY = (v: number) => Math.max(0, Math.min(geomH, v));
      setDraft({
        x_min: clampX(Math.min(d.start.x, p.x)),
        y_min: clampY(Math.min(d.start.y, p.y)),
        x_max: clampX(Math.max(d.start.x, p.x)),
        y_max: clampY(Math.max(d.start.y, p.y)),
      });
    }
  };
  const onPointerUp = () => {
    // At least 3 screen pixels each way (a click is not a box).
    if (tool === 'box' && draft && onDrawBox && (draft.x_max - draft.x_min) * view.scale > 3 && (draft.y_max - draft.y_min) * view.scale > 3) {
      onDrawBox({ x_min: Math.round(draft.x_min), y_min: Math.round(draft.y_min), x_max: Math.round(draft.x_max), y_max: Math.round(draft.y_max) });
    }
    setDraft(null);
    drag.current = null;
  };
  const zoomAt = (factor: number, cx = size.w / 2, cy = size.h / 2) => {
    setView((v) => {
      const scale = Math.max(0.05, Math.min(20, v.scale * factor));
      const k = scale / v.scale;
      return { scale, ox: cx - (cx - v.ox) * k, oy: cy - (cy - v.oy) * k };
    });
  };
  const onWheel = (e: ReactWheelEvent<HTMLCanvasElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    zoomAt(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
  };

  // Keep the page from scrolling while the wheel zooms the image.
  useEffect(() => {
    const c = canvasRef.current;
    if (!c) return;
    const stop = (e: WheelEvent) => e.preventDefault();
    c.addEventListener('wheel', stop, { passive: false });
    return () => c.removeEventListener('wheel', stop);
  }, []);

  const tools: { value: ViewerTool; label: string }[] = [
    { value: 'pan', label: t('viewer.pan') },
    { value: 'wl', label: t('viewer.windowLevel') },
    ...(onDrawBox ? [{ value: 'box' as const, label: t('viewer.drawBox') }] : []),
  ];

  return (
    <div className="viewer" data-testid={testId}>
      <div className="viewer-toolbar" role="toolbar" aria-label={t('viewer.tools')}>
        <div className="btn-group" role="group" aria-label={t('viewer.mouseTool')}>
          {tools.map((tl) => (
            <button
              key={tl.value}
              type="button"
              className="btn btn-small btn-secondary"
              aria-pressed={tool === tl.value}
              onClick={() => setTool(tl.value)}
              data-testid={`viewer-tool-${tl.value}`}
            >
              {tl.label}
            </button>
          ))}
        </div>
        <div className="btn-group" role="group" aria-label={t('viewer.zoom')}>
          <button
            type="button"
            className="btn btn-small btn-secondary btn-icon"
            onClick={() => zoomAt(1.25)}
            aria-label={t('viewer.zoomIn')}
            data-testid="viewer-zoom-in"
          >
            +
          </button>
          <button
            type="button"
            className="btn btn-small btn-secondary btn-icon"
            onClick={() => zoomAt(0.8)}
            aria-label={t('viewer.zoomOut')}
            data-testid="viewer-zoom-out"
          >
            −
          </button>
          <button
            type="button"
            className="btn btn-small btn-secondary"
            onClick={() => {
              fit();
              setWl({ width: 255, level: 128 });
            }}
            data-testid="viewer-reset"
          >
            {t('viewer.reset')}
          </button>
        </div>
        <span className="spacer" />
        {heatmapSources.length > 0 ? (
          <label className="check check-inline" htmlFor={`${id}-heat`}>
            <span>{t('viewer.heatmap')}</span>
            <select id={`${id}-heat`} className="select-inline" value={heatKey} onChange={(e) => setHeatKey(e.target.value)} data-testid="viewer-heatmap">
              <option value="">{t('viewer.off')}</option>
              {heatmapSources.map((h) => (
                <option key={h.key} value={h.key}>
                  {h.label}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        {lesions.length > 0 ? (
          <label className="check check-inline">
            <input type="checkbox" checked={showBoxes} onChange={(e) => setShowBoxes(e.target.checked)} data-testid="viewer-boxes" />
            {t('viewer.aiBoxes')}
          </label>
        ) : null}
      </div>
      <div className="viewer-stage" ref={wrapRef} style={{ height }}>
        <canvas
          ref={canvasRef}
          style={{ width: size.w, height: size.h, cursor: tool === 'pan' ? 'grab' : 'crosshair' }}
          role="img"
          aria-label={alt}
          data-testid={`${testId}-canvas`}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerUp}
          onWheel={onWheel}
          tabIndex={0}
          onKeyDown={(e) => {
            const step = 40;
            const moves: Record<string, [number, number]> = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
            const mv = moves[e.key];
            if (mv) {
              e.preventDefault();
              setView((v) => ({ ...v, ox: v.ox + mv[0], oy: v.oy + mv[1] }));
            } else if (e.key === '+' || e.key === '=') zoomAt(1.25);
            else if (e.key === '-') zoomAt(0.8);
            else if (e.key === '0') fit();
          }}
          aria-describedby={`${id}-keys`}
        />
        <span id={`${id}-keys`} className="sr-only">
          {t('viewer.keys')}
        </span>
        {/* The boxes as screen rectangles (CSS pixels inside the stage): read by screen readers and by the e2e coordinate test. */}
        <ul
          className="sr-only"
          data-testid={`${testId}-boxes`}
          data-image-width={geomW}
          data-image-height={geomH}
          data-image-rect={img ? rectAttr(view.ox, view.oy, geomW * view.scale, geomH * view.scale) : ''}
        >
          {showBoxes
            ? lesions.map((l, i) => (
                <li
                  key={`ai-${i}`}
                  data-kind="ai"
                  data-finding={l.finding}
                  data-rect={rectAttr(
                    view.ox + l.x_min * view.scale,
                    view.oy + l.y_min * view.scale,
                    (l.x_max - l.x_min) * view.scale,
                    (l.y_max - l.y_min) * view.scale,
                  )}
                >
                  {findingName(l.finding)} {`${Math.round(l.score * 100)}%`}
                </li>
              ))
            : null}
          {boxes.map((b, i) => (
            <li
              key={`r-${i}`}
              data-kind="radiologist"
              data-rect={rectAttr(
                view.ox + b.x_min * view.scale,
                view.oy + b.y_min * view.scale,
                (b.x_max - b.x_min) * view.scale,
                (b.y_max - b.y_min) * view.scale,
              )}
            >
              {t('viewer.drawBox')} {i + 1}
            </li>
          ))}
        </ul>
        {!img && !error ? <div className="viewer-msg">{t('common.loading')}</div> : null}
        {error ? <div className="viewer-msg viewer-msg-error">{t('viewer.loadFailed')}</div> : null}
        <div className="viewer-hud" aria-hidden="true">
          W {Math.round(wl.width)} · L {Math.round(wl.level)} · {Math.round(view.scale * 100)}%
        </div>
      </div>
      <div className="viewer-sliders">
        <label htmlFor={`${id}-w`}>{t('viewer.window')}</label>
        <input
          id={`${id}-w`}
          type="range"
          min={1}
          max={510}
          value={wl.width}
          onChange={(e) => setWl({ ...wl, width: Number(e.target.value) })}
          data-testid="viewer-window"
        />
        <label htmlFor={`${id}-l`}>{t('viewer.level')}</label>
        <input
          id={`${id}-l`}
          type="range"
          min={0}
          max={255}
          value={wl.level}
          onChange={(e) => setWl({ ...wl, level: Number(e.target.value) })}
          data-testid="viewer-level"
        />
      </div>
    </div>
  );
}
