// Errors on the wizard's fields as the user meets them: an error goes away once its field is
// edited (the others stay), and a refused step or save puts the focus on the field to fix.
import { describe, expect, test } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import Wizard from "../Wizard.svelte";
import { apiError, fakeCore } from "../../test/fakeCore";
import type { AreaForm } from "../../lib/api";

type User = ReturnType<typeof userEvent.setup>;

/** The RSS trigger's settings step, with `url` typed into the feed URL (none when empty). */
async function toTriggerSettings(user: User, url: string) {
  await user.click(await screen.findByTestId("pick-service-rss"));
  const field = await screen.findByTestId("param-url");
  if (url) await user.type(field, url);
}

/** The HTTP request reaction's settings step after a valid RSS trigger, with `url` typed. */
async function toRequestSettings(user: User, url: string) {
  await toTriggerSettings(user, "https://blog.example.org/feed.xml");
  await user.click(screen.getByTestId("wizard-next"));
  await user.click(await screen.findByTestId("pick-service-http"));
  await user.type(await screen.findByTestId("param-url"), url);
}

const refuseReactionUrl = (form: AreaForm) => {
  if (form.reactions.length > 0) throw apiError("invalid", "not a valid URL (relative URL without a base)", "reactions[0].params.url");
  return null;
};

describe("wizard field errors", () => {
  test("editing a field clears its error; the other fields' errors stay", async () => {
    fakeCore({
      validate_area: (a) => {
        const secs = (a.form as AreaForm).interval_secs;
        if (secs !== null && secs < 60) throw apiError("invalid", "use an interval of at least 60 seconds", "interval_secs");
        return null;
      },
      sample_event: () => {
        throw apiError("invalid", "not a valid URL (fake core)", "action.params.url");
      },
    });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await toTriggerSettings(user, "feed");
    await user.type(screen.getByTestId("interval-value"), "5");
    await user.selectOptions(screen.getByTestId("interval-unit"), "s");
    await user.click(screen.getByTestId("wizard-next"));
    expect(await screen.findByTestId("field-error-interval_secs")).toBeTruthy();
    await user.click(screen.getByTestId("load-sample"));
    expect((await screen.findByTestId("field-error-url")).textContent).toContain("not a valid URL");

    await user.type(screen.getByTestId("param-url"), ".xml");
    expect(screen.queryByTestId("field-error-url")).toBeNull();
    expect(screen.getByTestId("param-url").getAttribute("aria-invalid")).toBeNull();
    expect(screen.getByTestId("param-url").closest(".field")?.classList.contains("has-error")).toBe(false);
    expect(screen.getByTestId("field-error-interval_secs").textContent).toContain("at least 60");

    await user.type(screen.getByTestId("interval-value"), "0");
    expect(screen.queryByTestId("field-error-interval_secs")).toBeNull();
    expect(screen.getByTestId("interval-value").getAttribute("aria-invalid")).toBeNull();
  });

  test("the core's error on a reaction's field goes once the field is edited", async () => {
    fakeCore({ validate_area: (a) => refuseReactionUrl(a.form as AreaForm) });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await toRequestSettings(user, "not a url");
    await user.click(screen.getByTestId("wizard-next"));
    expect(await screen.findByTestId("field-error-url")).toBeTruthy();
    await user.type(screen.getByTestId("param-url"), "x");
    expect(screen.queryByTestId("field-error-url")).toBeNull();
    expect(screen.getByTestId("param-url").getAttribute("aria-invalid")).toBeNull();
  });

  test("the name's and the condition's errors go once they are edited", async () => {
    fakeCore({ read_condition: () => Promise.reject(apiError("invalid", "unknown variant `bigger` (core)", "condition")) });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await toRequestSettings(user, "https://hooks.example/x");
    await user.click(screen.getByTestId("wizard-next"));
    await user.click(await screen.findByTestId("open-filter"));
    await user.click(screen.getByText("Advanced (JSON)"));
    const json = screen.getByTestId("condition-json");
    await user.click(json);
    await user.paste('{"ingredient": "title", "op": "bigger", "value": 1}');
    await user.click(screen.getByTestId("wizard-save"));
    expect(await screen.findByTestId("field-error-condition")).toBeTruthy();
    await user.type(json, " ");
    expect(screen.queryByTestId("field-error-condition")).toBeNull();

    await user.click(screen.getByTestId("condition-enabled"));
    const name = await screen.findByTestId("area-name");
    await user.clear(name);
    await user.click(screen.getByTestId("wizard-save"));
    expect(await screen.findByTestId("field-error-name")).toBeTruthy();
    await user.type(name, "Mine");
    expect(screen.queryByTestId("field-error-name")).toBeNull();
    expect(name.getAttribute("aria-invalid")).toBeNull();
  });

  test("a step the core refuses puts the focus on the field to fix", async () => {
    fakeCore({ validate_area: (a) => refuseReactionUrl(a.form as AreaForm) });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await toRequestSettings(user, "not a url");
    await user.click(screen.getByTestId("wizard-next"));
    await screen.findByTestId("field-error-url");
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("param-url")));
  });

  test("a save the core refuses reopens the field's step with the focus on that field", async () => {
    fakeCore({
      create_area: () => {
        throw apiError("invalid", "a URL must start with http:// or https://", "reactions[0].params.url");
      },
    });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await toRequestSettings(user, "ftp://x");
    await user.click(screen.getByTestId("wizard-next"));
    await user.click(await screen.findByTestId("wizard-save"));
    await screen.findByTestId("field-error-url");
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("param-url")));
  });

  test("a required field left empty gets the focus", async () => {
    fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await toTriggerSettings(user, "");
    await user.click(screen.getByTestId("wizard-next"));
    await screen.findByText("Feed URL is required.");
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("param-url")));
  });

  test("a condition the core refuses gets the focus on its editor", async () => {
    fakeCore({ read_condition: () => Promise.reject(apiError("invalid", "unknown variant `bigger` (core)", "condition")) });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await toRequestSettings(user, "https://hooks.example/x");
    await user.click(screen.getByTestId("wizard-next"));
    await user.click(await screen.findByTestId("open-filter"));
    await user.click(screen.getByText("Advanced (JSON)"));
    await user.click(screen.getByTestId("condition-json"));
    await user.paste('{"ingredient": "title", "op": "bigger", "value": 1}');
    await user.click(screen.getByTestId("wizard-save"));
    await screen.findByTestId("field-error-condition");
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("condition-json")));
  });
});
