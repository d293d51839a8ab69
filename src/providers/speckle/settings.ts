// Speckle's settings, read once from the inputs, and the rules that need no server: model names from the
// template, and what Speckle would refuse without asking.
import { UsageError } from '../../core/errors.js';
import type { LocalFile } from '../../core/types.js';
import { checkPlaceholders, expandTemplate } from '../../files/names.js';
import { optionalId, requireId, requireToken, type CommonSettings, type InputReader } from '../../inputs.js';

export interface SpeckleSettings {
  token: string;
  serverUrl: string;
  projectId: string;
  /** The `model` template; unused when modelId is set. */
  modelTemplate: string;
  modelId?: string;
  origin: CommonSettings['origin'];
}

/** The template filled in for one file (src/files/names.ts: the language `model` shares with `name`). */
export const expandModelTemplate = expandTemplate;

/**
 * Speckle keeps model names lowercased, with `/` between nesting levels, and refuses empty levels and
 * leading or trailing slashes. Normalising the same way means the name we look up is the name the server
 * stores, so a second run finds the model the first one created.
 */
export function normaliseModelName(raw: string): string {
  return raw
    .replace(/\\/g, '/')
    .split('/')
    .map((segment) => segment.trim().replace(/\s+/g, ' '))
    .filter((segment) => segment !== '')
    .join('/')
    .toLowerCase();
}

/** Why Speckle would refuse this model name (its validation rules), or undefined. */
export function modelNameProblem(name: string): string | undefined {
  if (name === '') return 'the model name is empty';
  if (/^[#$]/.test(name)) return `Speckle model names cannot start with # or $ (got "${name}")`;
  if (name.includes(',')) return `Speckle model names cannot contain commas (got "${name}")`;
  if (name.length > 512) return `the model name is longer than 512 characters`;
  return undefined;
}

export function modelNameFor(settings: SpeckleSettings, file: Pick<LocalFile, 'path' | 'name'>): string {
  return normaliseModelName(expandModelTemplate(settings.modelTemplate, file));
}

/** The inputs, checked: a UsageError names the one that is wrong. No network. */
export function readSpeckleSettings(input: InputReader, common: CommonSettings): SpeckleSettings {
  const token = requireToken(common, 'SPECKLE_TOKEN', 'a Speckle personal access token (scopes streams:read and streams:write)');
  const projectId = requireId(input, 'project-id', "the ID in the project's URL, .../projects/<project-id>");
  const modelId = optionalId(input, 'model-id', "the ID in the model's URL, .../models/<model-id>");
  const modelTemplate = input('model') || '{path}';
  checkPlaceholders('model', modelTemplate, 'ci/{path}');
  if (!modelId && normaliseModelName(modelTemplate.replace(/\{\w+\}/g, 'x')) === '') {
    throw new UsageError('model', `got ${JSON.stringify(modelTemplate)}; expected a model name template such as {path} or "ci/{dir}/{stem}"`);
  }
  return { token, serverUrl: common.serverUrl, projectId, modelTemplate, ...(modelId ? { modelId } : {}), origin: common.origin };
}

/** Why Speckle would refuse this file, known without asking it. */
export function refuseFile(file: LocalFile, settings: SpeckleSettings): string | undefined {
  if (file.ext === '') {
    return 'Speckle picks its importer by the file extension, and this file has none (rename it, e.g. to model.ifc, or leave it out of path)';
  }
  if (!settings.modelId) {
    const problem = modelNameProblem(modelNameFor(settings, file));
    if (problem) return `${problem}; change the model template (input model) or use model-id`;
  }
  return undefined;
}
