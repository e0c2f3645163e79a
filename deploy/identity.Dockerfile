# The identity validator as a Lambda function, on the AWS Lambda base image for Node.js. Run locally, the image's
# built-in Runtime Interface Emulator serves the Invoke API on :8080
# (POST /2015-03-31/functions/function/invocations); pushed to ECR, the same image deploys as the real function.
# Build from the repository root: docker build -f deploy/identity.Dockerfile .
ARG NODE_VERSION=24

# `npm run package:lambda` bundles src/identity/handler.ts and its dependencies into one self-contained ES module.
FROM node:${NODE_VERSION}-bookworm-slim AS build
# zip: the script also writes the archive that deploys as a plain (non-container) function.
RUN apt-get update && apt-get install -y --no-install-recommends zip && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run package:lambda

# Only the bundle: no node_modules, no compiler, nothing else of the app.
FROM public.ecr.aws/lambda/nodejs:${NODE_VERSION} AS function
COPY --from=build /app/dist/lambda/index.mjs ${LAMBDA_TASK_ROOT}/
# The function reads TOKEN_SECRET, TOKEN_ISSUER, TOKEN_AUDIENCE (and optionally TOKEN_JWKS_URL) from its environment.
CMD ["index.handler"]
