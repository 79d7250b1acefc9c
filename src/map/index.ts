/**
 * The frame map: `captureFrameMap` reads a region into a JSON-serialisable snapshot
 * (`pageframe-map/1`), `renderFrameMap` draws one as SVG or HTML.
 */
export { captureFrameMap } from './capture.js';
export { renderFrameMap, type RenderFrameMapOptions } from './render.js';
export {
  FRAME_MAP_FORMAT,
  FrameMapFormatError,
  parseFrameMap,
  type FrameMap,
  type FrameMapCounts,
  type FrameMapFragmentation,
  type FrameMapList,
  type FrameMapType,
  type FrameMapWorker,
  type FrameRun,
  type FrameState,
} from './format.js';
