/** The API's OpenAPI document at /openapi.json (generated from the route table, api/openapi.ts) and Swagger UI at /docs. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { AuthSettings } from '../deps.ts';
import { openApiDocument } from '../openapi.ts';
import { ROUTES } from '../route-table.ts';
import { bindRoute } from './bind.ts';

export async function registerDocRoutes(app: FastifyInstance, auth: AuthSettings): Promise<void> {
  // What this server answers: open mode takes no key (no security schemes, no 401, 429 or
  // forbidden), and refuses other origins in both modes (403 cross_origin_refused).
  const apiDocument = () => openApiDocument({ auth: auth.mode });
  await app.register(swagger, { mode: 'static', specification: { document: apiDocument() as never } });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  bindRoute(app, ROUTES.apiDocument, async () => apiDocument());
}
