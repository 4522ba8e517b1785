"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.jsonSchemas = jsonSchemas;
const zod_1 = require("zod");
const subjects_1 = require("./subjects");
/** JSON Schema (draft 2020-12) of each event's payload as it travels on the bus. */
function jsonSchemas(prefix = 'trainyard') {
    const out = {};
    for (const c of (0, subjects_1.allContracts)()) {
        out[c.name] = {
            ...zod_1.z.toJSONSchema(c.schema, { io: 'input', unrepresentable: 'any' }),
            title: c.name,
            description: `Payload of ${prefix}.${c.filter}${c.public ? ' (public: other systems may publish it)' : ''}`,
        };
    }
    return out;
}
//# sourceMappingURL=json-schema.js.map