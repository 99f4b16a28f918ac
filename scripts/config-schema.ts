/**
 * Writes config.schema.json from `configSchema` (`npm run schema`). test/config.test.ts fails when
 * the file and the code disagree.
 */
import { writeFileSync } from "node:fs";
import { configSchemaText } from "../src/config/schema.ts";

writeFileSync(new URL("../config.schema.json", import.meta.url), configSchemaText());
