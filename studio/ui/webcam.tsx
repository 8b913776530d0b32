import { useEffect, useRef, useState } from 'preact/hooks';

/** A live camera preview (getUserMedia); `onVideo` gets the element once frames arrive. */
export function Webcam(props: { onVideo: (v: HTMLVideoElement | undefined) => void }) {
  const ref = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let stream: MediaStream | undefined;
    let stopped = false;
    navigator.mediaDevices
      ?.getUserMedia({ video: { width: 640, height: 480 }, audio: false })
      .then(async (s) => {
        if (stopped) return s.getTracks().forEach((t) => t.stop());
        stream = s;
        const v = ref.current!;
        v.srcObject = s;
        await v.play();
        props.onVideo(v);
      })
      .catch((e: Error) => setError(e.message));
    if (!navigator.mediaDevices) setError('no camera API here (the page must be opened on 127.0.0.1 or https)');
    return () => {
      stopped = true;
      stream?.getTracks().forEach((t) => t.stop());
      props.onVideo(undefined);
    };
  }, []);
  return error ? <p class="error">Webcam: {error}</p> : <video ref={ref} class="webcam" muted playsInline data-testid="webcam" />;
}

/** The current video frame as a JPEG file. */
export function frame(v: HTMLVideoElement, name: string): Promise<File> {
  const c = document.createElement('canvas');
  c.width = v.videoWidth;
  c.height = v.videoHeight;
  c.getContext('2d')!.drawImage(v, 0, 0);
  return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(new File([b], name, { type: 'image/jpeg' })) : reject(new Error('no frame'))), 'image/jpeg', 0.9));
}
