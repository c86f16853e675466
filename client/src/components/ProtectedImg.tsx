/** An <img> whose source needs the bearer token (fetched as a blob, revoked on unmount). */
import { useEffect, useState } from 'react';
import { useSession } from '../lib/session';

export function ProtectedImg({ src, alt, className }: { src: string; alt: string; className?: string }) {
  const { api } = useSession();
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let cancelled = false;
    let made: string | null = null;
    setFailed(false);
    api
      .blobUrl(src)
      .then((u) => {
        if (cancelled) URL.revokeObjectURL(u);
        else setUrl((made = u));
      })
      .catch(() => !cancelled && setFailed(true));
    return () => {
      cancelled = true;
      if (made) URL.revokeObjectURL(made);
    };
  }, [api, src]);
  if (url) return <img src={url} alt={alt} className={className} />;
  return <span className={`${className ?? ''} img-placeholder`} role="img" aria-label={alt} data-failed={String(failed)} />;
}
