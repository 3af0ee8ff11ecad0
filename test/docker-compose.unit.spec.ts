import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { CONFIG_VARIABLES, loadConfig } from '../src/config/app-config';
import { resolveSecrets } from '../src/config/secrets';

/**
 * docker/docker-compose.yml, docker/Dockerfile, docker/.env.example and .dockerignore, checked
 * without Docker: the apps get only variables the configuration reads, with values it accepts;
 * the profiles start what docker/README.md says they start; the image's health check asks a
 * route that exists.
 */

const ROOT = join(__dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Scalar = string | number | boolean | null;
interface Dependency {
  condition?: string;
  required?: boolean;
}
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  profiles?: string[];
  command?: string | string[];
  environment?: Record<string, Scalar> | string[];
  depends_on?: string[] | Record<string, Dependency>;
  ports?: (string | number | { target?: number; published?: string | number })[];
  deploy?: { replicas?: number };
  healthcheck?: { test?: string | string[] };
}
interface ComposeFile {
  version?: unknown;
  name?: string;
  services: Record<string, Service>;
}

const compose = load(read('docker/docker-compose.yml')) as ComposeFile;
const services = compose.services;
const dockerfile = read('docker/Dockerfile');
const envExample = read('docker/.env.example');

/** The secrets docker/.env must hold, generated as docker/.env.example shows. */
const SECRETS: Record<string, string> = {
  POSTGRES_PASSWORD: randomBytes(24).toString('hex'),
  JWT_SECRET: randomBytes(48).toString('base64'),
  ADMIN_API_KEY: randomBytes(24).toString('hex'),
  MASTER_KEY: randomBytes(32).toString('base64'),
};
const REQUIRED_APP_VARIABLES = [
  'DATABASE_URL',
  'EVENTSTORE_CONNECTION_STRING',
  'JWT_SECRET',
  'ADMIN_API_KEY',
  'MASTER_KEY',
];

// --- Compose's variable syntax: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?msg},
// ${VAR?msg}, ${VAR:+alt}, ${VAR+alt}; defaults may hold further ${...}.

interface Reference {
  readonly name: string;
  /** ':-', '-', ':?', '?', ':+', '+', or '' for ${VAR} and $VAR. */
  readonly operator: string;
}

/** The value Compose would give `text` with `env` (the shell and docker/.env) defining variables. */
function interpolate(
  text: string,
  env: Readonly<Record<string, string>>,
  seen: Reference[] = [],
): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '$') {
      out += c;
    } else if (text[i + 1] === '$') {
      out += '$';
      i++;
    } else if (text[i + 1] === '{') {
      let depth = 1;
      let j = i + 2;
      for (; j < text.length && depth > 0; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}') depth--;
      }
      if (depth !== 0) throw new Error(`unclosed \${ in ${JSON.stringify(text)}`);
      const body = text.slice(i + 2, j - 1);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
      if (!m) throw new Error(`bad interpolation \${${body}} in ${JSON.stringify(text)}`);
      const [, name, operator = '', argument = ''] = m;
      seen.push({ name, operator });
      const value = env[name];
      const set = value !== undefined;
      const nonEmpty = set && value !== '';
      const arg = () => interpolate(argument, env, seen);
      switch (operator) {
        case '':
          out += value ?? '';
          break;
        case ':-':
          out += nonEmpty ? value : arg();
          break;
        case '-':
          out += set ? value : arg();
          break;
        case ':?':
        case '?':
          if (operator === ':?' ? !nonEmpty : !set) {
            throw new Error(`required variable ${name} is missing a value: ${arg()}`);
          }
          out += value;
          break;
        case ':+':
          out += nonEmpty ? arg() : '';
          break;
        case '+':
          out += set ? arg() : '';
          break;
      }
      i = j - 1;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
      if (!m) {
        out += c;
        continue;
      }
      seen.push({ name: m[0], operator: '' });
      out += env[m[0]] ?? '';
      i += m[0].length;
    }
  }
  return out;
}

/** Every string in the file (x- sections included), with where it is. */
function stringsIn(value: unknown, path = ''): [string, string][] {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringsIn(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [
      ...stringsIn(k, `${path}.${k}(key)`),
      ...stringsIn(v, path ? `${path}.${k}` : k),
    ]);
  }
  return [];
}

/** Every ${VAR} the compose file uses, and how (defaults' own variables included). */
function references(): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const [, text] of stringsIn(compose)) {
    const seen: Reference[] = [];
    // Once with every variable set, once with none, so that each branch is read.
    interpolate(text, new Proxy({}, { get: () => 'x' }), seen);
    try {
      interpolate(text, {}, seen);
    } catch {
      // a ${VAR:?} with VAR unset: reported by its operator
    }
    for (const r of seen) {
      if (!found.has(r.name)) found.set(r.name, new Set());
      found.get(r.name)!.add(r.operator);
    }
  }
  return found;
}

function environmentOf(service: Service, env: Readonly<Record<string, string>>) {
  const raw = service.environment ?? {};
  const entries: [string, Scalar][] = Array.isArray(raw)
    ? raw.map((line) => {
        const eq = line.indexOf('=');
        return eq < 0 ? [line, null] : [line.slice(0, eq), line.slice(eq + 1)];
      })
    : Object.entries(raw);
  return Object.fromEntries(
    entries.map(([k, v]) => [k, v === null ? (env[k] ?? '') : interpolate(String(v), env)]),
  );
}

/** A `ports` entry in its short form, `[address:]published:target`. */
function portSpec(port: NonNullable<Service['ports']>[number]): string {
  return typeof port === 'object' ? `${port.published ?? ''}:${port.target ?? ''}` : String(port);
}

function dependenciesOf(service: Service): Record<string, Dependency> {
  const raw = service.depends_on ?? {};
  return Array.isArray(raw) ? Object.fromEntries(raw.map((name) => [name, {}])) : raw;
}

const appServices = Object.entries(services).filter(([, s]) => {
  const build = typeof s.build === 'string' ? { context: s.build } : s.build;
  return build?.dockerfile === 'docker/Dockerfile';
});
const eventStoreNodes = (profile: string) =>
  Object.entries(services).filter(
    ([, s]) =>
      (s.profiles ?? []).includes(profile) &&
      interpolate(s.image ?? '', {}).startsWith('eventstore/eventstore:'),
  );
const profilesDeclared = [...new Set(Object.values(services).flatMap((s) => s.profiles ?? []))];

describe('docker/docker-compose.yml', () => {
  it('is a Compose spec file: no version key, a project name, the services README names', () => {
    expect(compose.version).toBeUndefined();
    expect(compose.name).toMatch(/^[a-z0-9][a-z0-9_-]*$/);
    expect(Object.keys(services).sort()).toEqual(
      [
        'api',
        'eventstore',
        'eventstore1',
        'eventstore2',
        'eventstore3',
        'postgres',
        'projector',
      ].sort(),
    );
    expect(profilesDeclared.sort()).toEqual(['cluster', 'single']);
  });

  it('builds the api and the projector, and only them, from docker/Dockerfile', () => {
    expect(appServices.map(([name]) => name).sort()).toEqual(['api', 'projector']);
    for (const [, s] of appServices) {
      expect(s.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
    }
    // One image for both roles.
    expect(services.api.image).toBe(services.projector.image);
  });

  describe.each(appServices)('%s', (name, service) => {
    const env = environmentOf(service, SECRETS);

    it('sets only variables the configuration reads', () => {
      const unknown = Object.keys(env).filter((k) => !CONFIG_VARIABLES.includes(k));
      expect(unknown).toEqual([]);
    });

    it('sets every variable an external-database node needs', () => {
      for (const k of REQUIRED_APP_VARIABLES) expect(Object.keys(env)).toContain(k);
    });

    it('gives values the server accepts once docker/.env holds the secrets', () => {
      const config = loadConfig(env);
      expect(config.DATABASE_URL).toBe(
        `postgres://im:${SECRETS.POSTGRES_PASSWORD}@postgres:5432/im`,
      );
      expect(config.EVENTSTORE_CONNECTION_STRING).toMatch(/^esdb:\/\//);
      expect(() => resolveSecrets(config, false)).not.toThrow();
    });

    it('without docker/.env, stops at start naming each missing secret', () => {
      const config = loadConfig(environmentOf(service, {}));
      expect(() => resolveSecrets(config, false)).toThrow(
        /JWT_SECRET: required[\s\S]*ADMIN_API_KEY: required[\s\S]*MASTER_KEY: required/,
      );
    });

    it(`runs the ${name} role of dist/src/main.js, as npm run start:${name} does`, () => {
      expect(service.command).toEqual(['node', 'dist/src/main.js', name]);
      const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
      expect(pkg.scripts[`start:${name}`]).toBe(`node dist/src/main.js ${name}`);
    });

    it('waits for PostgreSQL, and for whichever event store its profile runs', () => {
      const deps = dependenciesOf(service);
      expect(deps.postgres).toEqual({ condition: 'service_healthy' });
      const nodes = [...eventStoreNodes('cluster'), ...eventStoreNodes('single')];
      for (const [node] of nodes) {
        expect(deps[node]).toEqual({ condition: 'service_healthy', required: false });
      }
    });

    it('runs in both profiles', () => {
      expect([...(service.profiles ?? [])].sort()).toEqual(['cluster', 'single']);
    });
  });

  it('runs two api replicas, each published on its own host port, and one projector', () => {
    expect(services.api.deploy?.replicas).toBe(2);
    expect(services.projector.deploy?.replicas ?? 1).toBe(1);
    const port = environmentOf(services.api, SECRETS).PORT;
    const published = (services.api.ports ?? []).map((p) => interpolate(portSpec(p), {}));
    expect(published).toEqual([`3000-3001:${port}`]);
    const [first, last] = published[0].split(':')[0].split('-').map(Number);
    expect(last - first + 1).toBe(services.api.deploy?.replicas);
    expect(services.projector.ports).toBeUndefined();
  });

  it('runs a three-node EventStoreDB cluster in the cluster profile', () => {
    const nodes = eventStoreNodes('cluster');
    expect(nodes.map(([name]) => name)).toEqual(['eventstore1', 'eventstore2', 'eventstore3']);
    for (const [name, node] of nodes) {
      expect(node.profiles).toEqual(['cluster']);
      const env = environmentOf(node, {});
      expect(env.EVENTSTORE_CLUSTER_SIZE).toBe(String(nodes.length));
      expect(env.EVENTSTORE_DISCOVER_VIA_DNS).toBe('false');
      expect(env.EVENTSTORE_INSECURE).toBe('true');
      expect(env.EVENTSTORE_RUN_PROJECTIONS).toBe('None');
      expect(env.EVENTSTORE_NODE_HOST_ADVERTISE_AS).toBe(name);
      expect(env.EVENTSTORE_REPLICATION_HOST_ADVERTISE_AS).toBe(name);
      expect(env.EVENTSTORE_GOSSIP_SEED.split(',').sort()).toEqual(
        nodes.filter(([other]) => other !== name).map(([other]) => `${other}:2113`),
      );
      expect(node.healthcheck?.test).toBeDefined();
      expect(node.ports).toBeUndefined();
    }
    // The apps' default connection string seeds discovery with the three nodes, without TLS
    // since the nodes are insecure.
    const { EVENTSTORE_CONNECTION_STRING } = environmentOf(services.api, SECRETS);
    expect(EVENTSTORE_CONNECTION_STRING).toBe(
      `esdb://${nodes.map(([name]) => `${name}:2113`).join(',')}?tls=false`,
    );
  });

  it('runs one node `eventstore` in the single profile, on localhost:2113, alone', () => {
    // `docker compose -f docker/docker-compose.yml up -d eventstore` starts this service and its
    // dependencies (none) whatever the active profiles; the contract tests then use
    // EVENTSTORE_CONNECTION_STRING=esdb://localhost:2113?tls=false.
    const single = services.eventstore;
    expect(eventStoreNodes('single').map(([name]) => name)).toEqual(['eventstore']);
    expect(single.profiles).toEqual(['single']);
    expect(single.depends_on).toBeUndefined();
    const env = environmentOf(single, {});
    expect(env.EVENTSTORE_CLUSTER_SIZE).toBe('1');
    expect(env.EVENTSTORE_INSECURE).toBe('true');
    expect((single.ports ?? []).map((p) => interpolate(portSpec(p), {}))).toEqual([
      '127.0.0.1:2113:2113',
    ]);
    // With the single profile, the apps are pointed at it by ESDB_CONNECTION_STRING.
    const { EVENTSTORE_CONNECTION_STRING } = environmentOf(services.api, {
      ...SECRETS,
      ESDB_CONNECTION_STRING: 'esdb://eventstore:2113?tls=false',
    });
    expect(loadConfig({ EVENTSTORE_CONNECTION_STRING }).EVENTSTORE_CONNECTION_STRING).toBe(
      'esdb://eventstore:2113?tls=false',
    );
  });

  it('gives every service a profile, and each profile a consistent set of services', () => {
    for (const [name, s] of Object.entries(services)) {
      expect([name, (s.profiles ?? []).length > 0]).toEqual([name, true]);
    }
    for (const profile of profilesDeclared) {
      const enabled = new Set(
        Object.entries(services)
          .filter(([, s]) => (s.profiles ?? []).includes(profile))
          .map(([name]) => name),
      );
      for (const name of enabled) {
        for (const [dep, d] of Object.entries(dependenciesOf(services[name]))) {
          expect(services[dep]).toBeDefined();
          // A required dependency must be enabled with the service, or Compose refuses.
          if (d.required !== false)
            expect([profile, name, dep, enabled.has(dep)]).toEqual([profile, name, dep, true]);
        }
      }
      expect(enabled.has('postgres')).toBe(true);
      expect(eventStoreNodes(profile).length).toBeGreaterThan(0);
    }
  });

  it('needs no docker/.env for `up -d eventstore`: every variable has a default', () => {
    // Compose interpolates the whole file before it applies profiles, so a ${VAR:?} anywhere
    // would stop even that command; a bare ${VAR} would warn about each unset one.
    for (const [name, operators] of references()) {
      expect([name, [...operators]]).toEqual([name, [':-']]);
    }
    expect(() => stringsIn(compose).forEach(([, text]) => interpolate(text, {}))).not.toThrow();
  });
});

describe('docker/.env.example', () => {
  const lines = envExample.split('\n');
  const listed = (name: string) => lines.some((line) => new RegExp(`^(# )?${name}=`).test(line));

  it('lists every variable the compose file uses', () => {
    const missing = [...references().keys()].filter((name) => !listed(name));
    expect(missing).toEqual([]);
  });

  it('holds no secret: each is present and empty', () => {
    for (const name of Object.keys(SECRETS)) expect(lines).toContain(`${name}=`);
  });

  it('makes a declared profile the default', () => {
    const line = lines.find((l) => l.startsWith('COMPOSE_PROFILES='));
    expect(profilesDeclared).toContain(line?.slice('COMPOSE_PROFILES='.length));
  });
});

describe('docker/Dockerfile', () => {
  /** The instructions of the last stage, continuation lines joined. */
  const finalStage = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .reduce<string[]>((stage, l) => (/^FROM\s/i.test(l) ? [l] : [...stage, l]), []);
  const instruction = (name: string) =>
    finalStage.filter((l) => l.toUpperCase().startsWith(`${name} `));

  it('runs as a user other than root', () => {
    const users = instruction('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.split(/\s+/)[1]).not.toMatch(/^(root|0)(:.*)?$/);
  });

  it('checks the liveness route of src/health/health.controller.ts', () => {
    const [check] = instruction('HEALTHCHECK');
    expect(check).toBeDefined();
    const path = /'(\/health[^']*)'/.exec(check)?.[1];
    expect(path).toBe('/health/live');
    const controller = read('src/health/health.controller.ts');
    const prefix = /@Controller\(\s*'([^']*)'\s*\)/.exec(controller)?.[1] ?? '';
    const routes = [...controller.matchAll(/@Get\(\s*(?:'([^']*)')?\s*\)/g)].map(
      ([, sub]) => `/${[prefix, sub].filter(Boolean).join('/')}`,
    );
    expect(routes).toContain(path);
  });

  it('starts dist/src/main.js, the entry nest build writes', () => {
    const nest = JSON.parse(read('nest-cli.json')) as { entryFile: string };
    expect(instruction('CMD')).toEqual([`CMD ["node", "dist/${nest.entryFile}.js"]`]);
    expect(instruction('EXPOSE')).toEqual(['EXPOSE 3000']);
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const sources = dockerfile
      .split('\n')
      .filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l))
      .flatMap((l) =>
        l
          .trim()
          .split(/\s+/)
          .slice(1, -1)
          .filter((a) => !a.startsWith('--')),
      );
    expect(sources.length).toBeGreaterThan(0);
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const source of sources) {
      expect([source, existsSync(join(ROOT, source))]).toEqual([source, true]);
      expect([source, inContext(source, ignore)]).toEqual([source, true]);
    }
    // Secrets and local state stay out.
    for (const path of [
      'docker/.env',
      '.data/secrets.json',
      'node_modules/x',
      'dist/x',
      '.git/x',
    ]) {
      expect([path, inContext(path, ignore)]).toEqual([path, false]);
    }
  });
});

/**
 * Whether .dockerignore lets `path` into the build context: the last matching pattern decides
 * (`!` lets in), a pattern that matches a folder matches what it holds.
 */
function inContext(path: string, patterns: readonly string[]): boolean {
  let included = true;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(
      `^${pattern
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) =>
          part === '**/'
            ? '(?:.*/)?'
            : part === '**'
              ? '.*'
              : part === '*'
                ? '[^/]*'
                : part === '?'
                  ? '[^/]'
                  : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
        )
        .join('')}(?:/.*)?$`,
    );
    if (regex.test(path)) included = negated;
  }
  return included;
}
