import { ArgumentsHost, Logger } from '@nestjs/common';
import { Errors } from '../../common/errors';
import { HttpErrorFilter } from '../../common/http/error.filter';
import { isBilibiliPath } from './bilibili-envelope';

/** Runs the app's error filter on `err` for a request to `path`; returns what it answered. */
function answer(path: string, err: unknown): { status: number; body: unknown } {
  const out = { status: 0, body: undefined as unknown };
  const res = {
    headersSent: false,
    status(s: number) {
      out.status = s;
      return this;
    },
    json(b: unknown) {
      out.body = b;
      return this;
    },
  };
  const host = {
    switchToHttp: () => ({ getResponse: () => res, getRequest: () => ({ path }) }),
  } as unknown as ArgumentsHost;
  new HttpErrorFilter().catch(err, host);
  return out;
}

describe('errors in the Bilibili envelope', () => {
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  it('serves the three Bilibili prefixes and nothing else', () => {
    expect(isBilibiliPath('/session_svr/v1/session_svr/single_unread')).toBe(true);
    expect(isBilibiliPath('/svr_sync/v1/svr_sync/fetch_session_msgs')).toBe(true);
    expect(isBilibiliPath('/web_im/v1/web_im/send_msg')).toBe(true);
    expect(isBilibiliPath('/api/v1/sessions')).toBe(false);
    expect(isBilibiliPath('/session_svrx')).toBe(false);
  });

  it("answers a domain error 200 with the seed's code; send_msg with data null", () => {
    expect(answer('/web_im/v1/web_im/send_msg', Errors.sendToSelf())).toEqual({
      status: 200,
      body: {
        code: 21026,
        msg: 'a message cannot be sent to yourself',
        message: 'a message cannot be sent to yourself',
        ttl: 1,
        data: null,
      },
    });
    expect(
      answer('/session_svr/v1/session_svr/session_detail', Errors.sessionNotFound('x', 1)),
    ).toEqual({
      status: 200,
      body: { code: 1000004, msg: expect.any(String), message: expect.any(String), ttl: 1 },
    });
  });

  it('keeps a server fault a 5xx, in the envelope and without internals', () => {
    const res = answer('/svr_sync/v1/svr_sync/fetch_session_msgs', new Error('db password leaked'));
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: -500, ttl: 1 });
    expect(JSON.stringify(res.body)).not.toMatch(/password/);
    expect(answer('/web_im/v1/web_im/send_msg', Errors.contended('s'))).toMatchObject({
      status: 503,
      body: { code: -503 },
    });
  });

  it('leaves the native and gateway envelopes as they were', () => {
    expect(answer('/api/v1/messages', Errors.sendToSelf())).toEqual({
      status: 400,
      body: { statusCode: 400, code: 21026, message: expect.any(String) },
    });
    expect(answer('/inner/get_token', Errors.validation('bad'))).toEqual({
      status: 400,
      body: { code: 40000, error: 'bad' },
    });
  });
});
