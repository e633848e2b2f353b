// The code under test: fetches a user's profile from an upstream HTTP service, retrying a
// refused connection a few times before answering 503. Nothing here knows about faultline.
import http from 'node:http'

export function getJson(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve(JSON.parse(body)))
    }).on('error', reject)
  })
}

export async function profile(upstreamPort, id, { retries = 2 } = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      return { status: 200, body: await getJson(upstreamPort, `/users/${id}`), attempts: attempt + 1 }
    } catch (err) {
      if (err.code !== 'ECONNREFUSED' || attempt >= retries) {
        return { status: 503, body: { error: `upstream unavailable: ${err.code}` }, attempts: attempt + 1 }
      }
    }
  }
}
