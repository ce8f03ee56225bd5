import { describe, expect, test, vi } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import ImportPanel from "./ImportPanel.svelte";
import { apiError, fakeCore } from "../test/fakeCore";

const review = {
  name: "hook",
  reads_from: "reads “Webhook received” from Webhooks",
  sends_to: ["sends “Send a message via webhook” to Discord at discord.com"],
  hosts: ["discord.com"],
  connections: [],
  private_network: false,
  lines: ["reads “Webhook received” from Webhooks", "sends to discord.com"],
};

describe("import panel", () => {
  test("an exported file's secret placeholders are asked for, then sent with the review and the import", async () => {
    const exported = '{"name":"hook","reactions":[{"params":{"webhook_url":"<secret: webhook_url>"}}]}';
    const field = "[0].reactions[0].params.webhook_url";
    const core = fakeCore({
      review_import: (a) => {
        const given = a.secrets as Record<string, string>;
        if (!given[field]) throw apiError("secrets_needed", "needs the secret", field);
        return [review];
      },
      import_areas_with_secrets: () => [],
    });
    const onDone = vi.fn();
    const user = userEvent.setup();
    render(ImportPanel, { props: { onDone, onCancel: () => {} } });
    await user.click(screen.getByTestId("import-text"));
    await user.paste(exported);
    await user.click(screen.getByTestId("import-submit"));

    const input = await screen.findByLabelText("Area 1 › Reaction 1 › webhook_url");
    expect(screen.getByTestId("import-error").textContent).toBe("");
    await user.click(screen.getByTestId("import-submit"));
    expect(screen.getByTestId("import-error").textContent).toMatch(/secret value/);
    await user.type(input, "https://discord.com/api/webhooks/1/tok");
    await user.click(screen.getByTestId("import-submit"));
    expect(await screen.findByText(/from Webhooks/)).toBeTruthy();
    const reviews = core.called("review_import");
    expect(reviews[reviews.length - 1].args.secrets).toEqual({ [field]: "https://discord.com/api/webhooks/1/tok" });

    await user.click(screen.getByTestId("import-enable"));
    await waitFor(() =>
      expect(core.called("import_areas_with_secrets")[0]?.args).toEqual({
        text: exported,
        allowPrivateNetwork: false,
        secrets: { [field]: "https://discord.com/api/webhooks/1/tok" },
      }),
    );
    expect(core.called("import_areas")).toHaveLength(0);
    await waitFor(() => expect(onDone).toHaveBeenCalled());
  });
});
