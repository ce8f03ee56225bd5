import { describe, expect, test } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import Wizard from "./Wizard.svelte";
import { apiError, fakeCore } from "../test/fakeCore";
import type { AreaForm } from "../lib/api";
import { nav } from "../lib/state.svelte";

async function pickTrigger(user: ReturnType<typeof userEvent.setup>) {
  await user.type(await screen.findByTestId("service-search"), "rss");
  // the search narrows the grid
  expect(screen.queryByTestId("pick-service-github")).toBeNull();
  await user.click(screen.getByTestId("pick-service-rss"));
  await user.type(await screen.findByTestId("param-url"), "https://blog.example.org/feed.xml");
  await user.click(screen.getByTestId("wizard-next"));
}

/** A new area from the RSS trigger to a notification titled "Hi", up to the review (and its filter). */
async function toReview(user: ReturnType<typeof userEvent.setup>) {
  await pickTrigger(user);
  await user.click(await screen.findByTestId("pick-service-notify"));
  await user.type(await screen.findByTestId("param-title"), "Hi");
  await user.click(screen.getByTestId("wizard-next"));
}

describe("create-area wizard", () => {
  test("from scratch, RSS → HTTP is 6 clicks over 4 screens (If, Then, Filter & review, the area's page)", async () => {
    const core = fakeCore();
    const user = userEvent.setup();
    let clicks = 1; // "New area" on the dashboard
    const screens = new Set<string>();
    const seeScreen = () => screens.add(within(screen.getByRole("list", { name: "Steps" })).getByRole("button", { current: "step" }).textContent ?? "");
    render(Wizard, { props: {} });
    await screen.findByTestId("pick-service-rss");
    seeScreen();
    await user.click(screen.getByTestId("pick-service-rss"));
    clicks++;
    seeScreen();
    await user.type(await screen.findByTestId("param-url"), "https://blog.example.org/feed.xml");
    await user.click(screen.getByTestId("wizard-next"));
    clicks++;
    await user.click(await screen.findByTestId("pick-service-http"));
    clicks++;
    seeScreen();
    await user.type(await screen.findByTestId("param-url"), "https://hooks.example/new");
    await user.click(screen.getByTestId("wizard-next"));
    clicks++;
    await screen.findByTestId("area-name");
    seeScreen();
    await user.click(screen.getByTestId("wizard-save"));
    clicks++;
    await waitFor(() => expect(core.called("create_area")).toHaveLength(1));
    expect(nav.route.name).toBe("area");
    screens.add("area page");
    expect([...screens]).toEqual(["If", "Then", "Filter & review", "area page"]);
    expect(clicks).toBe(6);
    const form = core.called("create_area")[0].args.form as AreaForm;
    expect([form.action.service, form.reactions[0].service, form.name]).toEqual(["rss", "http", "New feed item → Send an HTTP request"]);
  });

  test("service → action → params → reaction → ingredient picker → save sends the spec", async () => {
    const core = fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });

    await pickTrigger(user);
    await user.click(await screen.findByTestId("pick-service-notify"));

    const title = (await screen.findByTestId("param-title")) as HTMLInputElement;
    await user.type(title, "New: ");
    await user.click(screen.getByTestId("ingredient-picker-title"));
    const option = await screen.findByTestId("ingredient-title");
    expect(option.textContent).toContain("The entry's title");
    await user.click(option);
    expect(title.value).toBe("New: {{ title }}");

    await user.click(screen.getByTestId("wizard-next")); // → review (the filter is on it)
    const name = (await screen.findByTestId("area-name")) as HTMLInputElement;
    expect(name.value).toBe("New feed item → Show a notification");
    await user.click(screen.getByTestId("wizard-save"));

    await waitFor(() => expect(core.called("create_area")).toHaveLength(1));
    const form = core.called("create_area")[0].args.form as AreaForm;
    expect(form).toEqual({
      name: "New feed item → Show a notification",
      action: { service: "rss", id: "new_item", params: { url: "https://blog.example.org/feed.xml" } },
      reactions: [{ service: "notify", id: "send", params: { title: "New: {{ title }}" } }],
      condition: null,
      enabled: true,
      interval_secs: null,
      allow_private_network: false,
    });
    // the trigger step was checked with the core before moving on
    expect(core.called("validate_area").length).toBeGreaterThanOrEqual(1);
  });

  test("a typed poll interval is sent in seconds (number inputs bind numbers)", async () => {
    const core = fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await user.type(await screen.findByTestId("service-search"), "rss");
    await user.click(screen.getByTestId("pick-service-rss"));
    await user.type(await screen.findByTestId("param-url"), "https://blog.example.org/feed.xml");
    await user.clear(screen.getByTestId("interval-value"));
    await user.type(screen.getByTestId("interval-value"), "15");
    await user.selectOptions(screen.getByTestId("interval-unit"), "min");
    await user.click(screen.getByTestId("wizard-next"));
    await user.click(await screen.findByTestId("pick-service-notify"));
    await user.type(await screen.findByTestId("param-title"), "hi");
    await user.click(screen.getByTestId("wizard-next"));
    await user.click(await screen.findByTestId("wizard-save"));
    await waitFor(() => expect(core.called("create_area")).toHaveLength(1));
    expect((core.called("create_area")[0].args.form as AreaForm).interval_secs).toBe(900);
    expect(screen.queryByTestId("wizard-error")?.textContent?.trim() ?? "").toBe("");
  });

  test("the core's invalid error on reactions[0].params.url shows on the URL field", async () => {
    fakeCore({
      validate_area: (a) => {
        const form = a.form as AreaForm;
        if (form.reactions.length > 0) throw apiError("invalid", "not a valid URL (relative URL without a base)", "reactions[0].params.url");
        return null;
      },
    });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await pickTrigger(user);
    await user.click(await screen.findByTestId("pick-service-http"));
    await user.type(await screen.findByTestId("param-url"), "not a url");
    expect(screen.queryByTestId("field-error-url")).toBeNull();
    await user.click(screen.getByTestId("wizard-next"));
    const err = await screen.findByTestId("field-error-url");
    expect(err.textContent).toMatch(/not a valid URL/);
    expect(screen.getByTestId("param-url").getAttribute("aria-invalid")).toBe("true");
    // still on the reaction's form
    expect(screen.queryByTestId("area-name")).toBeNull();
  });

  test("an invalid error returned by save jumps back to the reaction's field", async () => {
    const core = fakeCore({
      create_area: () => {
        throw apiError("invalid", "a URL must start with http:// or https://", "reactions[0].params.url");
      },
    });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await pickTrigger(user);
    await user.click(await screen.findByTestId("pick-service-http"));
    await user.type(await screen.findByTestId("param-url"), "ftp://x");
    await user.click(screen.getByTestId("wizard-next"));
    await user.click(await screen.findByTestId("wizard-save"));
    const err = await screen.findByTestId("field-error-url");
    expect(err.textContent).toContain("must start with http");
    expect((screen.getByTestId("param-url") as HTMLInputElement).value).toBe("ftp://x");
    expect(core.called("create_area")).toHaveLength(1);
  });

  test("a service that needs an account is connected inline with a token", async () => {
    const core = fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await user.click(await screen.findByTestId("pick-service-github"));
    await user.type(await screen.findByTestId("param-repo"), "rust-lang/rust");
    await user.click(screen.getByTestId("wizard-next"));
    expect(screen.getByTestId("wizard-error").textContent).toMatch(/Connect GitHub first/);
    await user.type(screen.getByTestId("token-input"), "ghp_secret");
    await user.click(screen.getByTestId("token-submit"));
    await waitFor(() => expect(screen.queryByTestId("token-input")).toBeNull());
    expect(core.called("connect_token")[0].args).toEqual({ service: "github", token: "ghp_secret", label: null });
    await user.click(screen.getByTestId("wizard-next"));
    expect(await screen.findByTestId("pick-service-notify")).toBeTruthy();
  });

  test("unavailable services are shown disabled with their reason", async () => {
    fakeCore();
    render(Wizard, { props: {} });
    const tile = (await screen.findByTestId("pick-service-thunderbird")) as HTMLButtonElement;
    expect(tile.disabled).toBe(true);
    expect(within(tile).getByText("no web API")).toBeTruthy();
  });

  test("an optional condition is sent with the form", async () => {
    const core = fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await toReview(user);
    // no filter until one is added, on the review itself
    expect(screen.queryByTestId("condition-ingredient")).toBeNull();
    expect(screen.getByTestId("filter-summary").textContent).toBe("every new event (no filter)");
    await user.click(await screen.findByTestId("open-filter"));
    await user.selectOptions(screen.getByTestId("condition-ingredient"), "title");
    await user.selectOptions(screen.getByTestId("condition-op"), "contains");
    await user.type(screen.getByTestId("condition-value"), "Rust");
    expect(screen.getByTestId("filter-summary").textContent).toBe("title contains “Rust”");
    await user.click(screen.getByTestId("wizard-save"));
    await waitFor(() => expect(core.called("create_area")).toHaveLength(1));
    const form = core.called("create_area")[0].args.form as AreaForm;
    expect(form.condition).toEqual({ ingredient: "title", op: "contains", value: "Rust" });
  });

  test("the poll interval's default is the core's figure for the action", async () => {
    fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await user.type(await screen.findByTestId("service-search"), "rss");
    await user.click(screen.getByTestId("pick-service-rss"));
    await screen.findByTestId("interval-value");
    expect(screen.getByText(/Leave empty for the default/).textContent).toContain("(7 min)");
  });

  test("an advanced condition is read by the core; its error shows on the condition, then the read condition is sent", async () => {
    const refused = apiError("invalid", "unknown variant `bigger` (core)", "condition");
    const core = fakeCore({
      read_condition: (a) => {
        const c = JSON.parse(String(a.text));
        if (c.op === "bigger") throw refused;
        return c;
      },
    });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await toReview(user);
    await user.click(await screen.findByTestId("open-filter"));
    await user.click(screen.getByText("Advanced (JSON)"));
    const json = (await screen.findByTestId("condition-json")) as HTMLTextAreaElement;
    await user.clear(json);
    await user.click(json);
    await user.paste('{"ingredient": "title", "op": "bigger", "value": 1}');
    await user.click(screen.getByTestId("wizard-save"));
    expect((await screen.findByTestId("field-error-condition")).textContent).toContain("unknown variant `bigger` (core)");
    expect(core.called("read_condition")).toHaveLength(1);
    await user.clear(json);
    await user.click(json);
    await user.paste('{"any": [{"ingredient": "title", "op": "contains", "value": "Rust"}]}');
    await user.click(screen.getByTestId("wizard-save"));
    await waitFor(() => expect(core.called("create_area")).toHaveLength(1));
    expect((core.called("create_area")[0].args.form as AreaForm).condition).toEqual({ any: [{ ingredient: "title", op: "contains", value: "Rust" }] });
  });

  test("editing offers the ingredients the core says the area reads beyond the trigger's own", async () => {
    const stored: AreaForm = {
      name: "Typed names",
      action: { service: "rss", id: "new_item", params: { url: "https://a.example/feed" } },
      reactions: [{ service: "notify", id: "send", params: { title: "{{ title }} {{ author }}" } }],
      condition: null,
      enabled: true,
      interval_secs: null,
      allow_private_network: false,
    };
    fakeCore({ area: () => ({ detail: {}, form: stored, reads: ["author", "title"] }) });
    const user = userEvent.setup();
    render(Wizard, { props: { id: 3, startStep: "reaction-config" } });
    await user.click(await screen.findByTestId("ingredient-picker-title"));
    expect(await screen.findByTestId("ingredient-author")).toBeTruthy();
    expect(screen.getByTestId("ingredient-title")).toBeTruthy();
  });

  test("editing loads the area's form and saves with updateArea", async () => {
    const stored: AreaForm = {
      name: "Old name",
      action: { service: "rss", id: "new_item", params: { url: "https://a.example/feed" } },
      reactions: [{ service: "notify", id: "send", params: { title: "{{ title }}" } }],
      condition: null,
      enabled: true,
      interval_secs: 600,
      allow_private_network: false,
    };
    const core = fakeCore({
      area: () => ({ detail: {}, form: stored, reads: ["title"] }),
      update_area: (a) => ({ id: 7, name: (a.form as AreaForm).name }),
    });
    const user = userEvent.setup();
    render(Wizard, { props: { id: 7 } });
    const name = (await screen.findByTestId("area-name")) as HTMLInputElement;
    expect(name.value).toBe("Old name");
    await user.clear(name);
    await user.type(name, "New name");
    await user.click(screen.getByTestId("wizard-save"));
    await waitFor(() => expect(core.called("update_area")).toHaveLength(1));
    expect(core.called("update_area")[0].args).toEqual({ id: 7, form: { ...stored, name: "New name" } });
  });
});
