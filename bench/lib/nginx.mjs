// nginx for the benchmarks: the fixed Claude API upstream and the native reverse-proxy row. Each
// instance runs as a non-daemon child with its own temporary prefix and config, listens on loopback
// only, and never touches the system nginx's config, logs or pid file.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForPort } from './process.mjs';

/** The nginx binary, or undefined when it is not installed. */
export function findNginx() {
  for (const p of [process.env.NGINX_BIN, '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) {
    if (p && existsSync(p)) return p;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function commonHead(prefix) {
  // Temp paths are compiled in under /var/lib/nginx; point them all into the prefix so a non-root
  // user can run this too.
  return `worker_processes 1;
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_max_body_size 32m;
  client_body_buffer_size 64k;
`;
}

/**
 * The upstream: POST /v1/messages answers with the fixed Messages JSON, or with the fixture SSE
 * stream when the query has `bench=sse`; /sse/v1/messages always streams (for gateways that drop
 * query strings and take a base URL instead). Static files answer POST with 405; `error_page 405 =200`
 * re-serves them as GET, which is nginx's usual way to serve a fixed body to a POST. Like the Claude
 * API, it answers only once the whole request body is in: a static file's answer would otherwise go
 * out as soon as the head is read (nginx discards a body it does not need as it comes), and a proxy
 * that sends the body ahead of its last byte would be measured against an upstream that does not
 * wait for it. The mirror with its request body is nginx's way to make a location read the body
 * first; its subrequest answers 204 and nothing reads that answer.
 */
export function upstreamConfig(prefix, port, bodiesDir) {
  return `${commonHead(prefix)}
  server {
    listen 127.0.0.1:${port} reuseport;
    root ${bodiesDir};
    etag off;
    location = /v1/messages {
      if ($arg_bench = sse) { rewrite ^ /messages.sse last; }
      rewrite ^ /messages.json last;
    }
    location = /sse/v1/messages { rewrite ^ /messages.sse last; }
    location = /messages.json {
      internal;
      default_type application/json;
      add_header request-id req_011CbenchUpstreamFixed always;
      mirror /read-request-body;
      mirror_request_body on;
      error_page 405 =200 /messages.json;
    }
    location = /messages.sse {
      internal;
      default_type text/event-stream;
      add_header request-id req_011CbenchUpstreamFixed always;
      add_header cache-control no-cache always;
      mirror /read-request-body;
      mirror_request_body on;
      error_page 405 =200 /messages.sse;
    }
    location = /read-request-body { internal; return 204; }
    location / { return 404 '{"type":"error","error":{"type":"not_found_error","message":"bench upstream"}}'; }
  }
}
`;
}

/** nginx as a plain reverse proxy: keep-alive upstream, no buffering, nothing inspected. */
export function proxyConfig(prefix, port, upstreamPort) {
  return `${commonHead(prefix)}
  upstream claude { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} reuseport;
    location / {
      proxy_pass http://claude;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $proxy_host;
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`;
}

/** Start nginx with `config(prefix)`; resolves once it accepts connections on `port`. */
export async function startNginx(bin, name, port, config) {
  const prefix = mkdtempSync(join(tmpdir(), `skillgate-bench-${name}-`));
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, d));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, config(prefix));
  const child = spawn(bin, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  child.on('exit', () => { exited = true; });
  await waitForPort(port, 10_000, () => exited && `nginx ${name} exited; see ${prefix}/error.log`);
  return {
    name,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT');
        await Promise.race([done, new Promise((r) => setTimeout(r, 3000).unref())]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
