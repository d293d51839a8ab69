// One Speckle run: the part of the chain both protocols share (upload URL, model lookup or creation, the
// version message), with the protocol chosen when the session opened finishing each file.
import * as z from '../../core/schema.js';
import { PublishError, errorMessage } from '../../core/errors.js';
import type { Confirmed, FilePlan, HashedFile, HeldFile, LocalFile, LookupContext, Logger, ProviderSession, StepContext, UploadReceipt, UploadTarget } from '../../core/types.js';
import { formatBytes } from '../../core/units.js';
import { verdictUnlessCancelled } from '../../core/waiting.js';
import { graphqlFailure, isAmbiguous, isNotFound, SpeckleError } from './graphql.js';
import type { SpeckleApi } from './api.js';
import { createModel, latestVersionOfModel, latestVersionsByName, modelByName, updateVersionMessage } from './operations.js';
import { startOnce, type SpeckleProtocol } from './protocol.js';
import { modelNameFor, type SpeckleSettings } from './settings.js';

interface Pending {
  fileId: string;
}

const uploadUrlAnswer = z.object({
  fileUploadMutations: z.object({
    generateUploadUrl: z.object({
      url: z.url(),
      fileId: z.string().check(z.minLength(1)),
      additionalRequestHeaders: z.nullish(z.array(z.object({ header: z.string().check(z.minLength(1)), value: z.string() }))),
    }),
  }),
});

/** The file's SHA-256 as the version message carries it (`describeVersion`), and as skip-unchanged reads it back. */
export const versionSha256 = (message: string | null | undefined): string | undefined => /\bsha256:([0-9a-f]{64})\b/i.exec(message ?? '')?.[1]?.toLowerCase();

const latestVersion = z.object({ versions: z.object({ items: z.array(z.object({ id: z.string().check(z.minLength(1)), message: z.nullish(z.string()) })) }) });
const modelWithLatest = z.extend(latestVersion, { id: z.string().check(z.minLength(1)), name: z.string() });
const latestOfModelAnswer = z.object({ project: z.object({ model: modelWithLatest }) });
const latestByNameAnswer = z.object({ project: z.record(z.string(), z.object({ totalCount: z.nullish(z.number()), items: z.array(modelWithLatest) })) });
/** Model names asked for in one LatestVersionsByName request. */
const NAMES_PER_LOOKUP = 25;

const modelAnswer = z.object({ project: z.object({ modelByName: z.object({ id: z.string().check(z.minLength(1)), name: z.string() }) }) });
const createModelAnswer = z.object({ modelMutations: z.object({ create: z.object({ id: z.string().check(z.minLength(1)), name: z.string() }) }) });

/** What opening read from the server: its limit, and the project as the token sees it. */
export interface SpeckleServer {
  blobSizeLimitBytes?: number;
  project: { id: string; name: string };
}

export class SpeckleSession implements ProviderSession<Pending> {
  readonly displayName = 'Speckle';
  /** One lookup-or-create per model name, shared by every file that targets it: a new model is created once. */
  private readonly models = new Map<string, Promise<string>>();
  private readonly settings: SpeckleSettings;

  constructor(
    private readonly api: SpeckleApi,
    private readonly protocol: SpeckleProtocol,
    private readonly server: SpeckleServer,
    private readonly log: Logger,
  ) {
    this.settings = api.settings;
  }

  plan(file: LocalFile): FilePlan {
    const { project } = this.server;
    const model = this.settings.modelId ? `model ${this.settings.modelId}` : `model "${modelNameFor(this.settings, file)}" (created if missing)`;
    const refusal = this.refuse(file);
    return { destination: `Speckle project "${project.name}" (${project.id}), ${model}; ${this.protocol.finalisation} into a new version`, ...(refusal ? { refusal } : {}) };
  }

  private refuse(file: LocalFile): string | undefined {
    const limit = this.server.blobSizeLimitBytes;
    if (limit && file.bytes > limit) {
      return `the file has ${formatBytes(file.bytes)} (${file.bytes} bytes); this Speckle server accepts files up to ${formatBytes(limit)} (${limit} bytes, serverInfo.configuration.blobSizeLimitBytes)`;
    }
    return undefined;
  }

  /**
   * skip-unchanged: the latest version of every model the run targets (one query with model-id, one per 25 model
   * names with the template), and the SHA-256 its message records. A file whose model's latest version records
   * its SHA-256 is held: that version is reported. A model that does not exist yet, a latest version without a
   * SHA-256 (made by another client, or with wait: false) or of other bytes: the file is published.
   */
  async lookup(files: readonly HashedFile[], ctx: LookupContext): Promise<Map<LocalFile, HeldFile>> {
    const latest = new Map<string, { modelId: string; versionId: string; sha256?: string }>();
    const { projectId, modelId } = this.settings;
    if (modelId) {
      const answer = await this.api.call(latestVersionOfModel, { projectId, modelId }, `read the latest version of model ${modelId}`, latestOfModelAnswer, ctx.signal);
      const v = answer.project.model.versions.items[0];
      if (v) latest.set('', { modelId, versionId: v.id, sha256: versionSha256(v.message) });
    } else {
      const names = [...new Set(files.map((f) => modelNameFor(this.settings, f.file)))];
      for (let at = 0; at < names.length; at += NAMES_PER_LOOKUP) {
        const batch = names.slice(at, at + NAMES_PER_LOOKUP);
        const variables = Object.fromEntries([['projectId', projectId], ...batch.map((n, i) => [`n${i}`, n])]);
        const answer = await this.api.call(latestVersionsByName(batch.length), variables, `read the latest versions of ${batch.length} model(s)`, latestByNameAnswer, ctx.signal);
        batch.forEach((name, i) => {
          // Speckle stores model names lowercased; `search` answers every name containing ours: keep the exact one.
          const model = answer.project[`m${i}`]?.items.find((m) => m.name.toLowerCase() === name.toLowerCase());
          if (!model) return;
          // Known now: confirm need not look the model up again.
          if (!this.models.has(name)) this.models.set(name, Promise.resolve(model.id));
          const v = model.versions.items[0];
          if (v) latest.set(name, { modelId: model.id, versionId: v.id, sha256: versionSha256(v.message) });
        });
      }
    }
    const held = new Map<LocalFile, HeldFile>();
    for (const { file, sha256 } of files) {
      const found = latest.get(modelId ? '' : modelNameFor(this.settings, file));
      if (!found || found.sha256 !== sha256) continue;
      const modelUrl = `${this.settings.serverUrl}/projects/${projectId}/models/${found.modelId}`;
      held.set(file, {
        ids: { id: found.versionId, versionId: found.versionId, modelId: found.modelId, url: `${modelUrl}@${found.versionId}` },
        held: `the latest version ${found.versionId} of model ${found.modelId} records the same SHA-256`,
      });
    }
    return held;
  }

  async presign(file: LocalFile, ctx: StepContext): Promise<{ target: UploadTarget; pending: Pending }> {
    const input = { projectId: this.settings.projectId, fileName: file.name };
    const answer = await this.api.call(this.protocol.generateUploadUrl, { input }, 'get an upload URL', uploadUrlAnswer, ctx.signal);
    const { url, fileId, additionalRequestHeaders } = answer.fileUploadMutations.generateUploadUrl;
    // Storage checks the headers the URL was signed with: send every one Speckle lists, exactly, besides
    // the Content-Type (Speckle's guide uploads as application/octet-stream).
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    for (const { header, value } of additionalRequestHeaders ?? []) headers[header.toLowerCase()] = value;
    return { target: { method: 'PUT' as const, url, headers }, pending: { fileId } };
  }

  async confirm(file: LocalFile, pending: Pending, receipt: UploadReceipt, ctx: StepContext): Promise<Confirmed> {
    // Speckle compares this with storage's own ETag, quotes included: pass it on exactly as storage sent it.
    const etag = receipt.etag;
    if (!etag) throw new PublishError('storage answered the upload without an ETag, which Speckle needs to start the import', 'missing_etag');
    const modelId = this.settings.modelId ?? (await this.resolveModel(file, ctx));
    const modelUrl = `${this.settings.serverUrl}/projects/${this.settings.projectId}/models/${modelId}`;
    const started = await this.protocol.start(file, { projectId: this.settings.projectId, modelId, fileId: pending.fileId, etag }, modelUrl, ctx);
    ctx.log.info(`${file.path}: Speckle ${started.label} started on model ${modelId}`);
    // Speckle started it only after comparing our ETag with the stored object's.
    const submitted: Confirmed = { ids: started.submitted, outcome: 'submitted', evidence: ['speckle-etag'] };
    if (!ctx.wait) return submitted;
    // Waiting for the ingestion sends nothing of this file's own (one status request a round serves every waiting
    // file): its place goes to the next file, and it takes one again for its version message.
    ctx.waiting?.();
    const versionId = await verdictUnlessCancelled(ctx, file.path, () => started.verdict(ctx));
    if (versionId === undefined) return submitted;
    await ctx.resume?.();
    await this.describeVersion(file, versionId, receipt.sha256Hex, ctx);
    return { ids: started.accepted(versionId), outcome: 'accepted', evidence: ['speckle-etag'] };
  }

  private resolveModel(file: LocalFile, ctx: StepContext): Promise<string> {
    const name = modelNameFor(this.settings, file);
    let modelId = this.models.get(name);
    if (!modelId) {
      modelId = this.findOrCreateModel(name, ctx);
      this.models.set(name, modelId);
      // A failed attempt is not remembered: the next file that targets the model tries again.
      modelId.catch(() => this.models.delete(name));
    }
    return modelId;
  }

  private async findModel(name: string, ctx: StepContext): Promise<string | undefined> {
    const { data, errors } = await this.api.execute(modelByName, { projectId: this.settings.projectId, name }, `look up model "${name}"`, ctx.signal);
    if (errors?.length) {
      // A missing model is an error on modelByName (BRANCH_NOT_FOUND), not null.
      if (errors.every((e) => e.path?.includes('modelByName') && isNotFound(e))) return undefined;
      throw graphqlFailure(errors, `look up model "${name}"`, this.settings);
    }
    const parsed = modelAnswer.safeParse(data);
    if (!parsed.success) throw new SpeckleError(`Speckle look up model "${name}": unexpected answer shape`, 'invalid_response');
    return parsed.data.project.modelByName.id;
  }

  private async findOrCreateModel(name: string, ctx: StepContext): Promise<string> {
    const existing = await this.findModel(name, ctx);
    if (existing) return existing;
    const origin = this.settings.origin;
    const description = origin?.sha
      ? `Created by Model Publisher from ${origin.repository ?? 'a GitHub workflow'} at ${origin.sha}${origin.ref ? ` (${origin.ref})` : ''}${origin.runUrl ? ` — ${origin.runUrl}` : ''}`
      : undefined;
    const create = async () => {
      const answer = await this.api.call(
        createModel,
        { input: { projectId: this.settings.projectId, name, ...(description ? { description } : {}) } },
        `create model "${name}"`,
        createModelAnswer,
        ctx.signal,
      );
      this.log.info(`Speckle: created model "${answer.modelMutations.create.name}" (${answer.modelMutations.create.id})`);
      return answer.modelMutations.create.id;
    };
    try {
      return await create();
    } catch (err) {
      if (err instanceof SpeckleError && (err.reason === 'forbidden' || err.reason === 'project_not_found' || err.reason === 'invalid_token')) throw err;
      if (isAmbiguous(err)) {
        // The create may have gone through before the answer was lost: the name tells.
        return startOnce(`create model "${name}"`, err, () => this.findModel(name, ctx), create, ctx.log);
      }
      // Another run may have created the model meanwhile (the name is then taken): use the one the name finds.
      const again = await this.findModel(name, ctx).catch(() => undefined);
      if (again) {
        this.log.info(`Speckle: model "${name}" exists (${again}); using it (${errorMessage(err)})`);
        return again;
      }
      throw err;
    }
  }

  /**
   * Traceability: the version message names the commit, ref and workflow run, and the SHA-256 of the file's
   * bytes (`sha256:<hex>`), which skip-unchanged reads back on the next run. The start mutations take no
   * message, so it is set afterwards; a failure here never fails a file whose version exists (the next run then
   * finds no SHA-256 and publishes the file again: never a wrong skip).
   */
  private async describeVersion(file: LocalFile, versionId: string, sha256: string, ctx: StepContext) {
    const origin = this.settings.origin;
    const from = origin?.sha ? ` from ${origin.repository ?? 'GitHub'}@${origin.sha.slice(0, 12)}${origin.ref ? ` (${origin.ref})` : ''}${origin.runUrl ? ` — ${origin.runUrl}` : ''}` : '';
    const message = `${file.path}${from} · sha256:${sha256}`;
    try {
      await this.api.call(
        updateVersionMessage,
        { input: { projectId: this.settings.projectId, versionId, message } },
        `set the message of version ${versionId}`,
        z.object({ versionMutations: z.object({ update: z.object({ id: z.string() }) }) }),
        ctx.signal,
      );
    } catch (err) {
      ctx.log.info(`${file.path}: version ${versionId} exists, but its message could not be set (${errorMessage(err)})`);
    }
  }
}
