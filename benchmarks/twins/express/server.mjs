// Express 5 + Prisma 7 (pg driver adapter) twin of Keel's two hot authenticated requests (bench only).
// The same token checks as Keel (HS256 signature, issuer, audience, lifetime, typ) and the session is
// read on every request, so logout and revocation apply at once. One access line per request.
import express from "express";
import jwt from "jsonwebtoken";
import { PrismaPg } from "@prisma/adapter-pg";
import client from "./generated/client/index.js";

const { PrismaClient } = client;
const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.PG_URL, max: 10 }) });
const SECRET = process.env.JWT_SECRET;
const ISSUER = process.env.JWT_ISSUER || "keel";
const AUDIENCE = process.env.JWT_AUDIENCE || "keel-api";
const app = express();
app.disable("x-powered-by");

app.use((req, res, next) => {
  const started = process.hrtime.bigint();
  res.on("finish", () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    process.stdout.write(JSON.stringify({ method: req.method, path: req.path, status: res.statusCode, ms }) + "\n");
  });
  next();
});

async function principal(req, res, next) {
  const auth = req.get("authorization") || "";
  if (!auth.startsWith("Bearer ")) return res.status(401).json({ status: "error" });
  let claims;
  try {
    claims = jwt.verify(auth.slice(7), SECRET, { algorithms: ["HS256"], issuer: ISSUER, audience: AUDIENCE });
  } catch {
    return res.status(401).json({ status: "error" });
  }
  if (claims.typ !== "access") return res.status(401).json({ status: "error" });
  const session = await prisma.session.findUnique({
    where: { id: claims.sid },
    include: { user: { include: { roles: { include: { role: true } } } } },
  });
  if (!session || session.userId !== claims.sub || session.revokedAt || !session.user.isActive) {
    return res.status(401).json({ status: "error" });
  }
  req.user = session.user;
  req.sessionId = session.id;
  next();
}

app.get("/health", (req, res) => res.json({ status: "ok" }));

app.get("/api/v1/users/me", principal, (req, res) => {
  const u = req.user;
  res.json({
    status: "success",
    data: {
      id: u.id, email: u.email, name: u.name, is_active: u.isActive, is_verified: u.isVerified,
      roles: u.roles.map((r) => r.role.name).sort(), created_at: u.createdAt, last_login_at: u.lastLoginAt,
    },
  });
});

app.get("/api/v1/auth/sessions", principal, async (req, res) => {
  const limit = Math.min(Math.max(parseInt(req.query.limit ?? "20", 10) || 20, 1), 100);
  const offset = Math.max(parseInt(req.query.offset ?? "0", 10) || 0, 0);
  const where = { userId: req.user.id, revokedAt: null, expiresAt: { gt: new Date() } };
  const [rows, total] = await prisma.$transaction([
    prisma.session.findMany({ where, orderBy: [{ lastSeenAt: "desc" }, { id: "asc" }], take: limit, skip: offset }),
    prisma.session.count({ where }),
  ]);
  res.json({
    status: "success",
    data: rows.map((s) => ({
      id: s.id, browser: s.browser, os: s.os, device_type: s.deviceType, ip: s.ip, created_at: s.createdAt,
      last_seen_at: s.lastSeenAt, expires_at: s.expiresAt, current: s.id === req.sessionId,
    })),
    meta: { total, limit, offset },
  });
});

app.listen(Number(process.env.PORT || 8000), "127.0.0.1");
