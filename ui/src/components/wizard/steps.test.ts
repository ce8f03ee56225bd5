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
  test("a finished step reopens from the step list and keeps what was filled in", async () => {
    fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await user.click(await screen.findByTestId("pick-service-rss"));
    // only the steps reached are offered (RSS's one trigger was taken: its settings are open)
    expect(screen.getByTestId("wizard-goto-trigger")).toBeTruthy();
    expect(screen.queryByTestId("wizard-goto-reaction-service")).toBeNull();
    await user.type(await screen.findByTestId("param-url"), "https://blog.example.org/feed.xml");
    await user.click(screen.getByTestId("wizard-next"));
    await screen.findByTestId("pick-service-notify");

    await user.click(screen.getByTestId("wizard-goto-trigger"));
    expect(screen.getByTestId("pick-service-rss").className).toContain("selected");
    // reaching the reaction service was finished too: back there in one click
    await user.click(screen.getByTestId("wizard-goto-action-config"));
    expect((screen.getByTestId("param-url") as HTMLInputElement).value).toBe("https://blog.example.org/feed.xml");
    expect(screen.getByTestId("wizard-goto-reaction-service")).toBeTruthy();
    expect(document.activeElement?.tagName).toBe("H2");
  });

  test("the step pills are buttons up to the furthest step reached, the current one marked, and work from the keyboard", async () => {
    fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await user.click(await screen.findByTestId("pick-service-rss"));
    await user.type(await screen.findByTestId("param-url"), "https://blog.example.org/feed.xml");
    await user.click(screen.getByTestId("wizard-next"));
    await screen.findByTestId("pick-service-notify");

    const pills = within(screen.getByRole("list", { name: "Steps" }));
    const current = pills.getByRole("button", { current: "step" });
    expect(current.textContent).toBe("Reaction service");
    expect(pills.getAllByRole("button").map((b) => b.textContent)).toEqual(["Trigger service", "Trigger", "Trigger settings", "Reaction service"]);
    // steps not reached yet are plain text
    expect(pills.queryByRole("button", { name: "Reaction" })).toBeNull();
    expect(pills.getByText("Review").closest("button")).toBeNull();

    const trigger = pills.getByRole("button", { name: "Trigger" });
    expect(trigger.getAttribute("aria-current")).toBeNull();
    trigger.focus();
    await user.keyboard("{Enter}");
    expect(await screen.findByTestId("pick-action-new_item")).toBeTruthy();
    const reopened = pills.getByRole("button", { current: "step" });
    expect(reopened.textContent).toBe("Trigger");
    // the current step's pill takes the focus to the step itself
    await user.click(reopened);
    expect(document.activeElement?.textContent).toContain("What should RSS feeds watch for?");
  });

  test("editing opens on the step asked for; every step can be reopened", async () => {
    editing();
    const user = userEvent.setup();
    render(Wizard, { props: { id: 7, startStep: "condition" } });
    expect(await screen.findByTestId("condition-enabled")).toBeTruthy();
    await user.click(screen.getByTestId("wizard-goto-reaction-config"));
    expect((await screen.findByTestId("param-title") as HTMLInputElement).value).toBe("{{ title }}");
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
    render(Wizard, { props: { id: 7, startStep: "condition" } });
    await user.click(await screen.findByTestId("condition-enabled"));
    await user.selectOptions(screen.getByTestId("condition-ingredient"), "title");
    await user.type(screen.getByTestId("condition-value"), "Rust");
    await user.click(screen.getByRole("button", { name: "Advanced (JSON)" }));
    const json = screen.getByTestId("condition-json") as HTMLTextAreaElement;
    expect(JSON.parse(json.value)).toEqual({ ingredient: "title", op: "equals", value: "Rust" });
    await user.clear(json);
    await user.click(json);
    await user.paste('{"not": {"ingredient": "title", "op": "contains", "value": "beta"}}');
    await user.click(screen.getByTestId("wizard-next"));
    expect(await screen.findByText("custom condition")).toBeTruthy();
    await user.click(screen.getByTestId("wizard-save"));
    await waitFor(() => expect(core.called("update_area")).toHaveLength(1));
    expect((core.called("update_area")[0].args.form as AreaForm).condition).toEqual({ not: { ingredient: "title", op: "contains", value: "beta" } });
  });
});
