import { useEffect, useRef, useState } from 'preact/hooks';
import type { ImageInfo } from './api';
import { thumb } from './api';

const TILE = 128;
const GAP = 8;

/**
 * A virtualised grid: only the rows in view (plus one either side) are in the DOM, so 20,000
 * images scroll as smoothly as 20. Tiles have a fixed size, so a row's position is arithmetic.
 */
export function Grid(props: { images: ImageInfo[]; selected: number; onSelect: (i: number) => void; badge?: (img: ImageInfo) => preact.ComponentChildren; height?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, width: 800, height: 600 });
  useEffect(() => {
    const el = box.current!;
    const update = () => setView({ top: el.scrollTop, width: el.clientWidth, height: el.clientHeight });
    update();
    const ro = new ResizeObserver(update);
    ro.observe(el);
    el.addEventListener('scroll', update, { passive: true });
    return () => {
      ro.disconnect();
      el.removeEventListener('scroll', update);
    };
  }, []);
  const cols = Math.max(1, Math.floor((view.width - GAP) / (TILE + GAP)));
  const rows = Math.ceil(props.images.length / cols);
  const first = Math.max(0, Math.floor(view.top / (TILE + GAP)) - 1);
  const last = Math.min(rows, Math.ceil((view.top + view.height) / (TILE + GAP)) + 1);
  // Keep the selected tile in view when the keyboard moves it.
  useEffect(() => {
    const el = box.current;
    if (!el || props.selected < 0) return;
    const y = Math.floor(props.selected / cols) * (TILE + GAP);
    if (y < el.scrollTop) el.scrollTop = y;
    else if (y + TILE > el.scrollTop + el.clientHeight) el.scrollTop = y + TILE - el.clientHeight + GAP;
  }, [props.selected, cols]);
  const tiles = [];
  for (let r = first; r < last; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const img = props.images[i];
      if (!img) break;
      tiles.push(
        <figure key={img.id} class={`tile${i === props.selected ? ' sel' : ''}`} style={{ top: `${r * (TILE + GAP) + GAP}px`, left: `${c * (TILE + GAP) + GAP}px` }} onClick={() => props.onSelect(i)} data-id={img.id} title={img.error ?? img.name}>
          <img src={thumb(img.id)} loading="lazy" alt={img.name} />
          {props.badge?.(img)}
        </figure>,
      );
    }
  }
  return (
    <div class="grid" ref={box} style={{ height: props.height ?? 'calc(100vh - 132px)' }}>
      <div style={{ height: `${rows * (TILE + GAP) + GAP}px`, position: 'relative' }}>{tiles}</div>
    </div>
  );
}
