import type { Project } from './project.js';
import type { Embedder } from './embedder.js';
import type { Trainer } from './trainer.js';
import type { Thumbnails } from './thumbs.js';
import type { InboxModel } from './inbox.js';
import type { StudioModelSettings } from './settings.js';

/** What every studio route handler shares. */
export interface StudioContext {
  project: Project;
  embedder: Embedder;
  trainer: Trainer;
  thumbs: Thumbnails;
  /** The latest version's guesses for the inbox. */
  inbox: InboxModel;
  settings: StudioModelSettings;
  bodyLimit: number;
  maxPixels: number;
  maxFiles: number;
}
