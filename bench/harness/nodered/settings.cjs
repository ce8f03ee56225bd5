// Headless Node-RED settings for the peer benchmark (loopback only, no telemetry,
// no palette installs, quiet logging). userDir/flowFile come from env. CommonJS (.cjs): the
// repository's package.json declares ES modules, and Node-RED require()s its settings.
module.exports = {
    uiHost: "127.0.0.1",
    uiPort: Number(process.env.NR_PORT || 1880),
    userDir: process.env.NR_USERDIR,
    flowFile: "flows.json",
    flowFilePretty: false,
    credentialSecret: false,
    httpNodeRoot: "/",
    logging: { console: { level: process.env.NR_LOG || "warn", metrics: false, audit: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false, updateNotification: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false, allowUpload: false }, modules: { allowInstall: false } },
    editorTheme: { projects: { enabled: false }, tours: false },
    functionExternalModules: false,
    functionTimeout: 0,
    exportGlobalContextKeys: false,
    contextStorage: { default: { module: "memory" } },
};
