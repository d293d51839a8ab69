// The action's inputs, one source for action.yml (a test holds them equal: test/unit/action-inputs.test.ts),
// the README's inputs table and the command line's flags and --help. Vendor-free: descriptions name the providers
// as a user sees them.

export interface InputSpec {
  name: string;
  description: string;
  /** action.yml's default, as a string; absent where action.yml has none. */
  default?: string;
  required: boolean;
  /** Only meaningful inside a GitHub Actions job: not a command-line flag. */
  actionOnly?: boolean;
}

export const INPUTS: readonly InputSpec[] = [
  {
    name: "provider",
    description: "Where to publish: speckle, ion, coldstream or arcnm. Required, except with merge-results (then taken from the results files, and checked against them when given).",
    required: false,
  },
  {
    name: "path",
    description: "Newline-separated glob patterns of the files to publish, relative to the workspace; a line starting with ! excludes. Required, except with merge-results (then not allowed).",
    required: false,
  },
  {
    name: "token",
    description: "The provider credential (Speckle personal access token, ION access token, Coldstream access token, ARCNM API key). When empty, SPECKLE_TOKEN, ION_TOKEN, COLDSTREAM_TOKEN or ARCNM_API_KEY is read from the environment.",
    default: "",
    required: false,
  },
  {
    name: "server-url",
    description: "The provider's API base URL. Defaults to the public service (Speckle https://app.speckle.systems, ION https://api.firstresonance.io, ARCNM https://api.arcnm.io; Coldstream derives it from region). http:// is accepted only for loopback hosts.",
    default: "",
    required: false,
  },
  {
    name: "concurrency",
    description: "Files in flight at once (1-32); a file that only waits for the provider's verdict, which one request a round checks for every waiting file (ARCNM), no longer counts.",
    default: "4",
    required: false,
  },
  {
    name: "wait",
    description: "Wait for the provider's verdict on each file (Speckle ingestion, ARCNM's check, Coldstream job accepted). With false, files are reported submitted, not verified.",
    default: "true",
    required: false,
  },
  {
    name: "wait-timeout-minutes",
    description: "Give up waiting for the provider's processing after this many minutes; the file then fails with a timeout error.",
    default: "30",
    required: false,
  },
  {
    name: "if-no-files-found",
    description: "What to do when no file matches: error, warn or ignore.",
    default: "error",
    required: false,
  },
  {
    name: "fail-on-error",
    description: "A failed file fails the step; with false, failures are warnings and the step passes.",
    default: "true",
    required: false,
  },
  {
    name: "dry-run",
    description: "Resolve inputs, match and check files, check the credential and the target with read-only requests, and print where each file would go; send no request that writes anything.",
    default: "false",
    required: false,
  },
  {
    name: "skip-unchanged",
    description: "Before uploading, ask the provider what it already holds at each file's destination and skip files whose bytes are identical (SHA-256), reporting their existing IDs. Speckle: the model's latest version; ARCNM: a confirmed upload of the same name. ION and Coldstream offer no such lookup: every file is published.",
    default: "true",
    required: false,
  },
  {
    name: "shard",
    description: "K/N: publish only this job's stable share of the matched files, for matrix fan-out (e.g. 2/4).",
    default: "",
    required: false,
  },
  {
    name: "changed-since",
    description: "A commit (SHA or ref) to compare with: publish only the matched files whose content differs from it (added, modified or renamed since), read from git in the workspace. All zeros (a new branch's github.event.before) or empty: publish every matched file. Needs the commit in the checkout: set fetch-depth: 0 on actions/checkout.",
    default: "",
    required: false,
  },
  {
    name: "results-file",
    description: "Also write this run's results to this file (relative to the workspace, inside it; folders are created): the results output's objects plus the shard, patterns, provider, target, files matched before sharding and commit, as JSON. Written when the run fails or is cancelled too. Upload it with actions/upload-artifact for a merge-results step.",
    default: "",
    required: false,
  },
  {
    name: "merge-results",
    description: "Newline-separated glob patterns of results files (from results-file) to merge instead of publishing: checks that every shard 1..N is there exactly once, from one run, and writes one summary, one pull request comment and the merged outputs. Publishes nothing and needs no provider credential.",
    default: "",
    required: false,
  },
  {
    name: "max-attempts",
    description: "Attempts per request on retryable failures (429, 5xx, dropped connections), 1-10.",
    default: "5",
    required: false,
  },
  {
    name: "include-hidden-files",
    description: "Also publish files and folders whose names start with a dot.",
    default: "false",
    required: false,
  },
  {
    name: "request-timeout-seconds",
    description: "Time limit for one API request, and for an upload that stops moving.",
    default: "60",
    required: false,
  },
  {
    name: "validate",
    description: "Check each file's content against its extension (IFC, STEP, STL, PDF, PNG, JPEG, DXF, DWG) before uploading; a mismatch fails the file without uploading it.",
    default: "true",
    required: false,
  },
  {
    name: "comment-on-pr",
    description: "On pull requests, keep one comment up to date with the results table (needs github-token with pull-requests: write). Shards of a matrix (shard K/N with N > 1) do not comment: the merge-results step posts one comment for the whole matrix.",
    default: "false",
    required: false,
    actionOnly: true,
  },
  {
    name: "github-token",
    description: "Token for the pull request comment.",
    default: "${{ github.token }}",
    required: false,
    actionOnly: true,
  },
  {
    name: "comment-author",
    description: "The GitHub login behind github-token: only a comment by this author (with the hidden marker) is ever updated. Empty: github-actions[bot] for the job's GITHUB_TOKEN, or the owner of a personal token as GitHub reports it.",
    default: "",
    required: false,
    actionOnly: true,
  },
  {
    name: "project-id",
    description: "Speckle: the target project (required for speckle).",
    default: "",
    required: false,
  },
  {
    name: "model",
    description: "Speckle: model name template. {path} is the file's workspace-relative path without extension; also {dir}, {name}, {stem}, {ext}. Missing models are created.",
    default: "{path}",
    required: false,
  },
  {
    name: "model-id",
    description: "Speckle: send every file to this model; no lookup, no creation.",
    default: "",
    required: false,
  },
  {
    name: "name",
    description: "ION, Coldstream and ARCNM: the name each file is given there, a template like model's ({path} is the path without extension; also {dir}, {name}, {stem}, {ext}); the file's extension is kept. ION and Coldstream take no folders: a / becomes _. Two files with one name are refused.",
    default: "{name}",
    required: false,
  },
  {
    name: "entity-id",
    description: "ION: the entity to attach to (exactly one of entity-id and attach-to).",
    default: "",
    required: false,
  },
  {
    name: "attach-to",
    description: "ION: runStep:ID, run:ID, procedure:ID, step:ID, part:ID or runStepField:ID, resolved to its entity { id }.",
    default: "",
    required: false,
  },
  {
    name: "client-id",
    description: "ION: API key client ID, exchanged with client-secret for an access token (instead of token).",
    default: "",
    required: false,
  },
  {
    name: "client-secret",
    description: "ION: API key client secret (pass it from a secret).",
    default: "",
    required: false,
  },
  {
    name: "auth-url",
    description: "ION: the OAuth token endpoint for client-id/client-secret, or the auth server's https base URL (the realm path is appended). Derived from server-url for ION's known environments when empty.",
    default: "",
    required: false,
  },
  {
    name: "validate-upload",
    description: "ION: ask ION to verify the stored object against its ETag before creating the attachment.",
    default: "true",
    required: false,
  },
  {
    name: "case-id",
    description: "Coldstream: the target case (required for coldstream).",
    default: "",
    required: false,
  },
  {
    name: "component-id",
    description: "Coldstream: the target component; empty means a whole-case file.",
    default: "",
    required: false,
  },
  {
    name: "region",
    description: "Coldstream: hosting region, eu1, us1 or ap1.",
    default: "eu1",
    required: false,
  },
  {
    name: "finalize",
    description: "Coldstream: auto (STEP for a component is converted, a whole-case STEP is initialised, STL needs no job), convert, initialize or none.",
    default: "auto",
    required: false,
  },
  {
    name: "part-id",
    description: "ARCNM: attach each confirmed upload to this part (with revision-id).",
    default: "",
    required: false,
  },
  {
    name: "revision-id",
    description: "ARCNM: the revision of part-id to attach uploads to.",
    default: "",
    required: false,
  },
];
