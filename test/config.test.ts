import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { maskSecrets, maskUrl, registerSecret } from '../src/mask.js';

describe('loadConfig', () => {
  it('defaults to the embedded server in ./.cesar with info text logs', () => {
    const config = loadConfig({}, {}, '/srv/app');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.home, path.resolve('/srv/app/.cesar'));
    assert.equal(config.logLevel, 'info');
    assert.equal(config.logFormat, 'text');
    assert.equal(config.poolMax, 10);
    assert.ok(Object.isFrozen(config));
  });

  it('accepts COCKROACH_DB_URL as an alias of DATABASE_URL, DATABASE_URL winning', () => {
    assert.equal(loadConfig({ COCKROACH_DB_URL: 'postgresql://u@h:26257/db' }).databaseUrl, 'postgresql://u@h:26257/db');
    assert.equal(
      loadConfig({ COCKROACH_DB_URL: 'postgresql://u@h:26257/a', DATABASE_URL: 'postgres://u@h/b' }).databaseUrl,
      'postgres://u@h/b',
    );
  });

  it('lets flags override the environment', () => {
    const config = loadConfig({ CESAR_LOG_LEVEL: 'error', CESAR_HOME: '/a' }, { logLevel: 'debug', home: '/b' });
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.home, '/b');
  });

  it('reports every bad setting at once, naming each and what is allowed', () => {
    assert.throws(
      () => loadConfig({ CESAR_LOG_LEVEL: 'loud', CESAR_DB_POOL_MAX: '0', CESAR_PG_PORT: '80', DATABASE_URL: 'mysql://x@y/z' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.exitCode, 78);
        assert.match(err.message, /CESAR_LOG_LEVEL must be one of debug, info, warn, error; got "loud"/);
        assert.match(err.message, /CESAR_DB_POOL_MAX must be an integer from 1 to 1000; got "0"/);
        assert.match(err.message, /CESAR_PG_PORT must be 0 or 1024 to 65535/);
        assert.match(err.message, /DATABASE_URL must start with postgres:\/\//);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      },
    );
  });

  it('reads queue settings: CESAR_LISTEN and CESAR_JOB_RETENTION', () => {
    const config = loadConfig({ CESAR_LISTEN: 'off', CESAR_JOB_RETENTION: '12h' });
    assert.equal(config.listen, 'off');
    assert.equal(config.jobRetentionMs, 12 * 3_600_000);
    assert.equal(loadConfig({}).jobRetentionMs, 7 * 86_400_000);
    assert.throws(() => loadConfig({ CESAR_LISTEN: 'maybe' }), /CESAR_LISTEN must be one of auto, off/);
    assert.throws(() => loadConfig({ CESAR_JOB_RETENTION: '10s' }), /CESAR_JOB_RETENTION must be a duration of at least 1m/);
  });

  it('rejects a URL without a database, and never echoes the URL back', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'postgres://u:hunter2secret@h:5432' }),
      (err: Error) => {
        assert.match(err.message, /names no database/);
        assert.doesNotMatch(err.message, /hunter2secret/);
        return true;
      },
    );
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'not a url hunter2secret' }),
      (err: Error) => {
        assert.doesNotMatch(err.message, /hunter2secret/);
        return true;
      },
    );
  });
});

describe('masking', () => {
  it('masks URL passwords, key=value secrets and registered values', () => {
    assert.equal(maskUrl('postgres://bob:s3cr3t@db:5432/app'), 'postgres://bob:***@db:5432/app');
    assert.equal(maskSecrets('connect postgres://bob:s3cr3t@db/app failed'), 'connect postgres://bob:***@db/app failed');
    assert.equal(maskSecrets('password=abc123 host=x'), 'password=*** host=x');
    assert.equal(maskSecrets('{"api_key":"k-123","token": "t-9"}'), '{"api_key":"***","token": "***"}');
    registerSecret('pa$$word-xyz');
    assert.equal(maskSecrets('it was pa$$word-xyz and pa%24%24word-xyz'), 'it was *** and ***');
  });
});
