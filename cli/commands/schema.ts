import { Command } from "@commander-js/extra-typings";
import { z } from "zod";
import { Pipeline } from "../../engine/plan/mod.ts";
import { examples } from "../help.ts";

/** `drizzle schema`: the JSON Schema of the pipeline language. */
export function schemaCommand() {
  return new Command("schema")
    .description("Print the JSON Schema of the pipeline language (for editor completion), to stdout.")
    .addHelpText(
      "after",
      examples([
        "drizzle schema > drizzle.schema.json",
        "# then, first line of a pipeline: # yaml-language-server: $schema=./drizzle.schema.json",
      ]),
    )
    .action(() => {
      process.stdout.write(JSON.stringify(z.toJSONSchema(Pipeline, { io: "input" }), null, 2) + "\n");
    });
}
