import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { isStorableText } from './conversation';
import { EMOTICON_NAME, emoticonCatalog, EmoticonCatalog } from './emoticons';
import { KeywordRule } from './keyword-rules';

/**
 * The data files behind message content: the emoticon catalog (`e_infos`) and the keyword rules
 * (`key_hit_infos`). Read once at start; a bad file stops the start with a message naming the
 * file and the problem.
 *
 * `config/emoticons.json`:
 *   { "emoticons": [{ "text": "[tv_doge]", "uri": "https://…", "size": 1, "gif_url"?: "https://…" }],
 *     "aliases": { "[doge]": "[tv_doge]" } }
 * `config/keyword-rules.json`:
 *   { "rules": [{ "rule_id": 2, "keywords": ["支付宝"], "toast": "【温馨提示】…" }] }
 *
 * Unknown fields are errors, so a misspelt field does not silently go unused.
 */

export interface ContentCatalogs {
  readonly emoticons: EmoticonCatalog;
  /** In the order of the file: the first rule that matches wins. */
  readonly keywordRules: readonly KeywordRule[];
}

/** Paths of the files; relative ones are taken from the working directory. Unset: the shipped ones. */
export interface ContentCatalogPaths {
  readonly emoticons?: string;
  readonly keywordRules?: string;
}

export class CatalogError extends Error {
  override readonly name = 'CatalogError';
}

/**
 * The nearest folder, from `from` up, that holds a package.json. This file runs from
 * `src/messaging/domain` (ts-node, jest) and from `dist/src/messaging/domain` (`npm start`); both
 * lead to the package, whatever the working directory.
 */
export function packageRoot(from: string = __dirname): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new CatalogError(`no package.json above ${from}`);
  }
}

/** The shipped files, in `config/` of the package. */
export function defaultCatalogPaths(root: string = packageRoot()): Required<ContentCatalogPaths> {
  return {
    emoticons: join(root, 'config', 'emoticons.json'),
    keywordRules: join(root, 'config', 'keyword-rules.json'),
  };
}

const storable = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((s) => isStorableText(s), 'must not hold NUL or unpaired UTF-16 surrogates');
const httpUrl = z
  .string()
  .url()
  .refine((s) => /^https?:\/\//i.test(s), 'must be an http(s) URL');
const emoticonName = z.string().regex(EMOTICON_NAME, 'must be a name in brackets, like [tv_doge]');

const emoticonsFile = z
  .object({
    emoticons: z.array(
      z
        .object({
          text: emoticonName,
          uri: httpUrl,
          size: z.union([z.literal(1), z.literal(2)], {
            errorMap: () => ({ message: 'must be 1 (small) or 2 (large)' }),
          }),
          gif_url: httpUrl.optional(),
        })
        .strict(),
    ),
    aliases: z.record(emoticonName, emoticonName).default({}),
  })
  .strict();

const keywordRulesFile = z
  .object({
    rules: z.array(
      z
        .object({
          rule_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
          keywords: z.array(storable(1, 64)).min(1).max(200),
          toast: storable(1, 500),
        })
        .strict(),
    ),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<number>();
    file.rules.forEach((r, i) => {
      if (seen.has(r.rule_id)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['rules', i, 'rule_id'],
          message: `rule_id ${r.rule_id} is used twice`,
        });
      }
      seen.add(r.rule_id);
    });
  });

function readJson(what: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CatalogError(`cannot read the ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CatalogError(`the ${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

function parseFile<T>(what: string, path: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>): T {
  const parsed = schema.safeParse(readJson(what, path));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new CatalogError(`the ${what} ${path} is not valid:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Reads and checks the catalogs; throws a {@link CatalogError} naming the file and the problem. */
export function loadContentCatalogs(paths: ContentCatalogPaths = {}): ContentCatalogs {
  const emoticonsPath = resolve(paths.emoticons ?? defaultCatalogPaths().emoticons);
  const rulesPath = resolve(paths.keywordRules ?? defaultCatalogPaths().keywordRules);

  const emoticons = parseFile('emoticon catalog', emoticonsPath, emoticonsFile);
  let catalog: EmoticonCatalog;
  try {
    catalog = emoticonCatalog(emoticons.emoticons, emoticons.aliases);
  } catch (err) {
    throw new CatalogError(
      `the emoticon catalog ${emoticonsPath} is not valid: ${(err as Error).message}`,
    );
  }
  const { rules } = parseFile('keyword rules', rulesPath, keywordRulesFile);
  return { emoticons: catalog, keywordRules: rules };
}
