// The wizard's steps as the user meets them: reopening finished steps from the step list,
// the review's reaction list, the core's interval error, and the JSON condition editor.
import { describe, expect, test } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import Wizard from "../Wizard.svelte";
import { apiError, fakeCore } from "../../test/fakeCore";
import type { AreaForm } from "../../lib/api";

const stored: AreaForm = {
  name: "Feed to phone",
  action: { service: "rss", id: "new_item", params: { url: "https://a.example/feed" } },
  reactions: [
    { service: "notify", id: "send", params: { title: "{{ title }}" } },
    { service: "http", id: "request", params: { url: "https://hooks.example/x" } },
  ],
  condition: null,
  enabled: true,
  interval_secs: null,
  allow_private_network: false,
};

function editing(overrides = {}) {
  return fakeCore({
    area: () => ({ detail: {}, form: stored, reads: ["title"] }),
    update_area: (a) => ({ id: 7, name: (a.form as AreaForm).name }),
    ...overrides,
  });
}

describe("wizard steps", () => {
  test("a finished screen reopens from the step list and keeps what was filled in", async () => {
    fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await user.click(await screen.findByTestId("pick-service-rss"));
    // only the screens reached are offered (RSS's one trigger was taken: its settings are open)
    expect(screen.getByTestId("wizard-goto-if")).toBeTruthy();
    expect(screen.queryByTestId("wizard-goto-then")).toBeNull();
    await user.type(await screen.findByTestId("param-url"), "https://blog.example.org/feed.xml");
    await user.click(screen.getByTestId("wizard-next"));
    await screen.findByTestId("pick-service-notify");

    // the If screen reopens where it was left: the trigger's settings, as filled in
    await user.click(screen.getByTestId("wizard-goto-if"));
    expect((screen.getByTestId("param-url") as HTMLInputElement).value).toBe("https://blog.example.org/feed.xml");
    expect(document.activeElement?.tagName).toBe("H2");
    // the choice stays in view and can be made again
    await user.click(screen.getByTestId("chosen-trigger-change"));
    expect(screen.getByTestId("pick-service-rss").className).toContain("selected");
    // reaching the Then screen was finished too: back there in one click
    await user.click(screen.getByTestId("wizard-goto-then"));
    expect(await screen.findByTestId("pick-service-notify")).toBeTruthy();
  });

  test("three screens: the pills are buttons up to the furthest reached, the current one marked, and work from the keyboard", async () => {
    fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    const pills = within(screen.getByRole("list", { name: "Steps" }));
    expect(pills.getAllByRole("listitem").map((li) => li.textContent?.trim())).toEqual(["If", "Then", "Filter & review"]);
    await user.click(await screen.findByTestId("pick-service-github"));
    // a service with several triggers: the choice is on the same If screen, under the chosen service
    expect(screen.getByTestId("chosen-trigger").textContent).toContain("GitHub");
    expect(pills.getByRole("button", { current: "step" }).textContent).toBe("If");
    await user.click(screen.getByTestId("chosen-trigger-change"));
    await user.click(await screen.findByTestId("pick-service-rss"));
    await user.type(await screen.findByTestId("param-url"), "https://blog.example.org/feed.xml");
    await user.click(screen.getByTestId("wizard-next"));
    await screen.findByTestId("pick-service-notify");

    const current = pills.getByRole("button", { current: "step" });
    expect(current.textContent).toBe("Then");
    // the Then screen says what it continues
    expect(screen.getByTestId("chosen-trigger").textContent).toContain("New feed item");
    expect(pills.getAllByRole("button").map((b) => b.textContent)).toEqual(["If", "Then"]);
    // screens not reached yet are plain text
    expect(pills.getByText("Filter & review").closest("button")).toBeNull();

    const back = pills.getByRole("button", { name: "If" });
    expect(back.getAttribute("aria-current")).toBeNull();
    back.focus();
    await user.keyboard("{Enter}");
    expect(await screen.findByTestId("param-url")).toBeTruthy();
    const reopened = pills.getByRole("button", { current: "step" });
    expect(reopened.textContent).toBe("If");
    // the current screen's pill takes the focus to the step itself
    await user.click(reopened);
    expect(document.activeElement?.textContent).toContain("Settings");
  });

  test("editing opens on the step asked for; every step can be reopened", async () => {
    editing();
    const user = userEvent.setup();
    render(Wizard, { props: { id: 7, startStep: "reaction-config" } });
    expect((await screen.findByTestId("param-title") as HTMLInputElement).value).toBe("{{ title }}");
    await user.click(screen.getByTestId("wizard-goto-if"));
    expect((await screen.findByTestId("param-url") as HTMLInputElement).value).toBe("https://a.example/feed");
    await user.click(screen.getByTestId("wizard-goto-review"));
    expect(((await screen.findByTestId("area-name")) as HTMLInputElement).value).toBe("Feed to phone");
  });

  test("the review removes a reaction, and adding one can be abandoned with Back", async () => {
    const core = editing();
    const user = userEvent.setup();
    render(Wizard, { props: { id: 7 } });
    await screen.findByTestId("area-name");
    const removes = screen.getAllByRole("button", { name: "Remove" });
    expect(removes).toHaveLength(2);
    await user.click(removes[1]);
    expect(screen.queryAllByRole("button", { name: "Remove" })).toHaveLength(0);

    await user.click(screen.getByTestId("add-reaction"));
    expect(await screen.findByText("And then… choose another service")).toBeTruthy();
    await user.click(screen.getByTestId("wizard-back"));
    await user.click(await screen.findByTestId("wizard-save"));
    await waitFor(() => expect(core.called("update_area")).toHaveLength(1));
    const form = core.called("update_area")[0].args.form as AreaForm;
    expect(form.reactions).toEqual([stored.reactions[0]]);
    expect(form.name).toBe("Feed to phone");
  });

  test("the core's interval error shows on the interval field and keeps the trigger's settings open", async () => {
    fakeCore({
      validate_area: (a) => {
        const secs = (a.form as AreaForm).interval_secs;
        if (secs !== null && secs < 60) throw apiError("invalid", "may poll at most every 60 seconds: use an interval of at least 60, not 5", "interval_secs");
        return null;
      },
    });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await user.click(await screen.findByTestId("pick-service-rss"));
    await user.type(await screen.findByTestId("param-url"), "https://blog.example.org/feed.xml");
    await user.type(screen.getByTestId("interval-value"), "5");
    await user.selectOptions(screen.getByTestId("interval-unit"), "s");
    await user.click(screen.getByTestId("wizard-next"));
    expect((await screen.findByTestId("field-error-interval_secs")).textContent).toMatch(/at least 60/);
    expect(screen.getByTestId("param-url")).toBeTruthy();
    await user.clear(screen.getByTestId("interval-value"));
    await user.type(screen.getByTestId("interval-value"), "2");
    await user.selectOptions(screen.getByTestId("interval-unit"), "min");
    await user.click(screen.getByTestId("wizard-next"));
    expect(await screen.findByTestId("pick-service-notify")).toBeTruthy();
  });

  test("a required field left empty is named before asking the core", async () => {
    const core = fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await user.click(await screen.findByTestId("pick-service-rss"));
    await user.click(await screen.findByTestId("wizard-next"));
    expect(await screen.findByText("Feed URL is required.")).toBeTruthy();
    expect(core.called("validate_area")).toHaveLength(0);
  });

  test("the JSON condition editor starts from the simple one and is sent as written", async () => {
    const core = editing();
    const user = userEvent.setup();
    render(Wizard, { props: { id: 7 } });
    await user.click(await screen.findByTestId("open-filter"));
    await user.selectOptions(screen.getByTestId("condition-ingredient"), "title");
    await user.type(screen.getByTestId("condition-value"), "Rust");
    await user.click(screen.getByRole("button", { name: "Advanced (JSON)" }));
    const json = screen.getByTestId("condition-json") as HTMLTextAreaElement;
    expect(JSON.parse(json.value)).toEqual({ ingredient: "title", op: "equals", value: "Rust" });
    await user.clear(json);
    await user.click(json);
    await user.paste('{"not": {"ingredient": "title", "op": "contains", "value": "beta"}}');
    expect(screen.getByTestId("filter-summary").textContent).toBe("custom condition");
    await user.click(screen.getByTestId("wizard-save"));
    await waitFor(() => expect(core.called("update_area")).toHaveLength(1));
    expect((core.called("update_area")[0].args.form as AreaForm).condition).toEqual({ not: { ingredient: "title", op: "contains", value: "beta" } });
  });
});
