() => {
  // The candidate table sorts on one click of a header, and a second click reverses it.
  // Gradio 6 sorts from a header's menu (Sort ascending / Sort descending); the page's CSS
  // spreads the menu's button over the header, and this picks the menu's item at once.
  // Capture phase: Gradio's header handlers stop the click from bubbling.
  let last = null;
  let direction = "descending";
  document.addEventListener(
    "click",
    (event) => {
      const header = event.target.closest ? event.target.closest("#candidates th") : null;
      if (!header) return;
      const key = header.getAttribute("data-testid");
      direction = key === last && direction === "ascending" ? "descending" : "ascending";
      last = key;
      setTimeout(() => {
        const items = document.querySelectorAll('.cell-menu [role="menuitem"]');
        const sort = [...items].find((item) => item.textContent.trim() === "Sort " + direction);
        if (sort) sort.click();
      }, 0);
    },
    true,
  );
}
